-- Per (session, player, opponent) endstats kills and deaths (serving rollup).
SELECT * FROM player_versus_sessions ORDER BY session_date, session_id, guid, opponent_guid

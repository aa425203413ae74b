-- Per (session, player) totals in play order (serving rollup player_sessions), for milestones
-- and session personal bests.
SELECT * FROM player_sessions ORDER BY session_date, session_id, guid

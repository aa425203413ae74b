-- One player's per-session totals (serving rollup player_sessions): his best sessions.
SELECT * FROM player_sessions WHERE guid = $guid ORDER BY session_date, session_id

-- Each player's best round of each session on each map (serving rollup player_map_bests).
SELECT * FROM player_map_bests ORDER BY session_date, session_id, guid, map_name

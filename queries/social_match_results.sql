-- Every player's result on every complete map (serving rollup player_match_results).
SELECT session_id, session_date, match_id, map_name, end_time, guid, name, side, winner, result
FROM player_match_results
ORDER BY end_time, match_id, guid

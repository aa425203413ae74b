-- Every round (serving table), in play order: completion times for map records.
SELECT session_id, session_date, round_id, match_id, file_name, map_name, round_number,
       end_time, duration_s, time_limit_s, next_time_limit_s, attackers_won, counted
FROM rounds
ORDER BY end_time, file_name

-- Every round of one session, in play order, with what the stopwatch score needs.
-- Params: $session_id.
SELECT round_id, match_id, file_name, map_name, round_number, start_time, end_time,
       duration_s, time_limit_s, next_time_limit_s, defender_side, winner_side,
       attackers_won, paired_round_id, players, bots, counted, reason
FROM rounds
WHERE session_id = $session_id
ORDER BY end_time, file_name

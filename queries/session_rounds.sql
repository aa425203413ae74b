-- Every round of one session (or of every session in a date range), in play order, with
-- what the stopwatch score needs.
-- Params: $session_id (NULL = every session), $date_from, $date_to (session dates, inclusive).
SELECT session_id, session_date, server, round_id, match_id, file_name, map_name, round_number, start_time, end_time,
       duration_s, time_limit_s, next_time_limit_s, defender_side, winner_side,
       attackers_won, paired_round_id, players, bots, counted, reason
FROM rounds
WHERE session_date BETWEEN $date_from AND $date_to
  AND ($session_id IS NULL OR session_id = $session_id)
ORDER BY session_id, end_time, file_name

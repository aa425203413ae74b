-- The session(s) that STARTED on a date (a session crossing midnight belongs to its start
-- date), latest first; falls back to a session that ran into that date.
-- Params: $day.
SELECT session_id, session_date, (session_date = $day) AS started_that_day
FROM rounds
WHERE counted
  AND (session_date = $day OR CAST(end_time AS DATE) = $day)
GROUP BY session_id, session_date
ORDER BY started_that_day DESC, session_id DESC
LIMIT 1

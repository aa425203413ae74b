-- The session(s) that STARTED on a date (a session crossing midnight belongs to its start
-- date), latest first; falls back to a session that ran into that date. A date holding
-- several (a break longer than the gap) opens the last to start: the CLI and the bot name
-- the others (Stats.others_on), and a session id opens any of them.
-- With several game servers, the one of $server (NULL: any; the latest to start).
-- Params: $day, $server.
SELECT session_id, session_date, (session_date = $day) AS started_that_day
FROM rounds
WHERE counted
  AND (session_date = $day OR CAST(end_time AS DATE) = $day)
  AND ($server IS NULL OR server = $server)
GROUP BY session_id, session_date
ORDER BY started_that_day DESC, min(start_time) DESC, session_id DESC
LIMIT 1

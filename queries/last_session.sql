-- The id of the most recent session that has at least one counted round.
SELECT session_id, session_date
FROM rounds
WHERE counted
ORDER BY end_time DESC, session_id DESC  -- not by id: another server's ids are larger
LIMIT 1

-- The id of the most recent session that has at least one counted round.
SELECT session_id, session_date
FROM rounds
WHERE counted
ORDER BY session_id DESC
LIMIT 1

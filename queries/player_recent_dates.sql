-- The session dates of a player's most recent counted sessions (to read only those
-- partitions for his last rounds).
-- Params: $guid, $limit.
SELECT DISTINCT session_date
FROM player_sessions
WHERE guid = $guid
ORDER BY session_date DESC
LIMIT $limit

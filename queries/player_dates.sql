-- The session dates on which each player appears (any row but a bot's: identity, aliases
-- and counted rows alike), ordered by GUID: what a player's own pages depend on.
SELECT guid, session_date
FROM player_name_sessions
GROUP BY guid, session_date
ORDER BY guid, session_date

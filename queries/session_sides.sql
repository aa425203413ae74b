-- Which side each counted player was on in each round of one session (team detection).
-- Sides 1 and 2 only: a counted row of team 3 (played, then moved to spectator before the
-- round ended) is on no side (DECISIONS.md "Spectators").
-- Reads the partitions the caller scopes player_rounds to.
-- Params: $session_id (NULL = every session in scope).
SELECT session_id, round_id, match_id, round_number, guid, team
FROM player_rounds
WHERE ($session_id IS NULL OR session_id = $session_id) AND counted AND team IN (1, 2)

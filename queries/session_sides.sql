-- Which side each counted player was on in each round of one session (team detection).
-- Params: $session_id.
SELECT round_id, match_id, round_number, guid, team
FROM player_rounds
WHERE session_id = $session_id AND counted

-- Every name a GUID has used, with rounds and last use (all rows: identity, not stats).
-- Params: $guid.
SELECT name, sum(rounds)::BIGINT AS rounds, min(first_seen) AS first_seen,
       max(last_seen) AS last_seen
FROM player_name_sessions
WHERE guid = $guid
GROUP BY name
ORDER BY last_seen DESC

-- Every name a GUID has used, with rounds and last use (all rows: identity, not stats).
-- Params: $guid.
SELECT name, count(*) AS rounds, min(end_time) AS first_seen, max(end_time) AS last_seen
FROM player_rounds
WHERE guid = $guid AND NOT is_bot
GROUP BY name
ORDER BY last_seen DESC

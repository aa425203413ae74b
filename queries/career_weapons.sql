-- Every player's all-time weapon totals (counted rows), for the career-card index that is
-- built once per lake version.
-- Params: $server (NULL: every game server).
SELECT guid, weapon, weapon_id,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths, sum(hits)::BIGINT AS hits,
       sum(shots)::BIGINT AS shots, sum(headshots)::BIGINT AS headshots,
       CASE WHEN sum(shots) > 0 THEN 100.0 * sum(hits) / sum(shots) END AS accuracy
FROM player_weapon_sessions
WHERE $server IS NULL OR server = $server
GROUP BY guid, weapon, weapon_id
ORDER BY guid, kills DESC, shots DESC, weapon_id

-- A player's weapon totals over a window (counted rows only).
-- Params: $guid, $date_from, $date_to, $server (NULL: every game server).
SELECT weapon, weapon_id,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths, sum(hits)::BIGINT AS hits,
       sum(shots)::BIGINT AS shots, sum(headshots)::BIGINT AS headshots,
       CASE WHEN sum(shots) > 0 THEN 100.0 * sum(hits) / sum(shots) END AS accuracy
FROM player_weapon_sessions
WHERE guid = $guid AND session_date BETWEEN $date_from AND $date_to
  AND ($server IS NULL OR server = $server)
GROUP BY weapon, weapon_id
ORDER BY kills DESC, shots DESC, weapon_id

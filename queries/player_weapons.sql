-- A player's weapon totals over a window (counted rows only).
-- Params: $guid, $date_from, $date_to.
SELECT weapon, weapon_id,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths, sum(hits)::BIGINT AS hits, sum(shots)::BIGINT AS shots,
       sum(headshots)::BIGINT AS headshots,
       CASE WHEN sum(shots)::BIGINT > 0 THEN 100.0 * sum(hits)::BIGINT / sum(shots)::BIGINT END AS accuracy
FROM weapon_rounds
WHERE guid = $guid AND counted AND session_date BETWEEN $date_from AND $date_to
GROUP BY weapon, weapon_id
ORDER BY kills DESC, shots DESC, weapon_id

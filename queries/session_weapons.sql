-- Weapon totals of one session, counted rows only. Reads the session date's partition.
-- Params: $session_id.
SELECT
    weapon,
    sum(kills)::BIGINT          AS kills,
    sum(deaths)::BIGINT         AS deaths,
    sum(hits)::BIGINT           AS hits,
    sum(shots)::BIGINT          AS shots,
    sum(headshots)::BIGINT      AS headshots,
    count(DISTINCT guid)::BIGINT AS players
FROM weapon_rounds
WHERE counted AND session_id = $session_id
GROUP BY weapon
HAVING sum(kills) > 0 OR sum(shots) > 0
ORDER BY kills DESC, shots DESC, weapon

-- Weapon totals of one session (or of every session in scope), counted rows only. Reads the
-- partitions the caller scopes weapon_rounds to.
-- Params: $session_id (NULL = every session in scope).
SELECT
    session_id,
    weapon,
    sum(kills)::BIGINT          AS kills,
    sum(deaths)::BIGINT         AS deaths,
    sum(hits)::BIGINT           AS hits,
    sum(shots)::BIGINT          AS shots,
    sum(headshots)::BIGINT      AS headshots,
    count(DISTINCT guid)::BIGINT AS players
FROM weapon_rounds
WHERE counted AND ($session_id IS NULL OR session_id = $session_id)
GROUP BY session_id, weapon
HAVING sum(kills) > 0 OR sum(shots) > 0
ORDER BY session_id, kills DESC, shots DESC, weapon

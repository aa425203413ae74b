-- Per-map (match) results of one session: counted rounds only.
-- Params: $session_id.
WITH p AS (
    SELECT match_id, sum(kills)::BIGINT AS kills, sum(damage_given)::BIGINT AS damage_given
    FROM player_rounds
    WHERE session_id = $session_id AND counted
    GROUP BY match_id
)
SELECT
    r.match_id,
    any_value(r.map_name)        AS map_name,
    min(r.end_time)              AS first_end,
    count(*)                     AS rounds,
    sum(r.duration_s)            AS play_time_s,
    any_value(p.kills)           AS kills,
    any_value(p.damage_given)    AS damage_given
FROM rounds r
LEFT JOIN p USING (match_id)
WHERE r.session_id = $session_id AND r.counted
GROUP BY r.match_id
ORDER BY first_end

-- Per-map (match) results of one session: counted rounds only.
-- Params: $session_id.
SELECT
    r.match_id,
    any_value(r.map_name)                                            AS map_name,
    min(r.end_time)                                                  AS first_end,
    count(*)                                                         AS rounds,
    sum(r.duration_s)::BIGINT                                                AS play_time_s,
    (SELECT sum(p.kills)::BIGINT FROM player_rounds p
      WHERE p.match_id = r.match_id AND p.counted)                   AS kills,
    (SELECT sum(p.damage_given)::BIGINT FROM player_rounds p
      WHERE p.match_id = r.match_id AND p.counted)                   AS damage_given
FROM rounds r
WHERE r.session_id = $session_id AND r.counted
GROUP BY r.match_id
ORDER BY first_end

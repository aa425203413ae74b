-- Each player's DPM per match (map) of one session, in play order: Σdamage·60/Σown seconds.
-- Params: $session_id.
SELECT
    p.match_id,
    any_value(p.map_name)                       AS map_name,
    min(p.end_time)                             AS first_end,
    p.guid,
    arg_max(p.name, p.end_time)                 AS name,
    sum(p.damage_given)::BIGINT                         AS damage_given,
    sum(p.time_played_s)::BIGINT                        AS time_played_s,
    CASE WHEN sum(p.time_played_s)::BIGINT > 0
         THEN sum(CASE WHEN p.time_played_s > 0 THEN p.damage_given ELSE 0 END)::BIGINT * 60.0
              / sum(p.time_played_s)::BIGINT END        AS dpm
FROM player_rounds p
WHERE p.session_id = $session_id AND p.counted
GROUP BY p.match_id, p.guid
ORDER BY first_end, p.guid

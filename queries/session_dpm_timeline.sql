-- Each player's DPM per match (map) of one session, in play order: Σdamage·60/Σown seconds.
-- Reads the partitions the caller scopes player_rounds to.
-- Params: $session_id (NULL = every session in scope).
SELECT
    any_value(p.session_id)                     AS session_id,
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
WHERE ($session_id IS NULL OR p.session_id = $session_id) AND p.counted
GROUP BY p.match_id, p.guid
ORDER BY session_id, first_end, p.guid

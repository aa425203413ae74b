-- A player's stats per map (counted rows only).
-- Params: $guid.
SELECT map_name,
       count(*)                   AS rounds,
       sum(kills)::BIGINT                 AS kills,
       sum(deaths)::BIGINT                AS deaths,
       sum(damage_given)::BIGINT          AS damage_given,
       sum(time_played_s)::BIGINT         AS time_played_s,
       CASE WHEN sum(time_played_s)::BIGINT > 0
            THEN sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END)::BIGINT * 60.0
                 / sum(time_played_s)::BIGINT END AS dpm,
       CASE WHEN sum(deaths)::BIGINT > 0 THEN sum(kills)::DOUBLE / sum(deaths)::BIGINT END AS kd
FROM player_rounds
WHERE guid = $guid AND counted
GROUP BY map_name
ORDER BY rounds DESC, map_name

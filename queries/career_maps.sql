-- Every player's all-time stats per map (counted rows), for the career-card index.
-- Params: $server (NULL: every game server).
SELECT guid, map_name,
       sum(rounds)::BIGINT        AS rounds,
       sum(kills)::BIGINT         AS kills,
       sum(deaths)::BIGINT        AS deaths,
       sum(damage_given)::BIGINT  AS damage_given,
       sum(time_played_s)::BIGINT AS time_played_s,
       CASE WHEN sum(time_played_s) > 0
            THEN sum(dpm_damage) * 60.0 / sum(time_played_s) END AS dpm,
       CASE WHEN sum(deaths) > 0 THEN sum(kills)::DOUBLE / sum(deaths) END AS kd
FROM player_map_sessions
WHERE $server IS NULL OR server = $server
GROUP BY guid, map_name
ORDER BY guid, rounds DESC, map_name

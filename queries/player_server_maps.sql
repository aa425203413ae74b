-- One player's all-time stats per map on one game server, most played first.
-- Params: $guid, $server.
SELECT map_name,
       sum(rounds)::BIGINT        AS rounds,
       sum(kills)::BIGINT         AS kills,
       sum(deaths)::BIGINT        AS deaths,
       sum(damage_given)::BIGINT  AS damage_given,
       sum(time_played_s)::BIGINT AS time_played_s,
       CASE WHEN sum(time_played_s) > 0
            THEN sum(dpm_damage) * 60.0 / sum(time_played_s) END AS dpm,
       CASE WHEN sum(deaths) > 0 THEN sum(kills)::DOUBLE / sum(deaths) ELSE sum(kills)::DOUBLE END AS kd
FROM player_map_sessions
WHERE guid = $guid AND server = $server
GROUP BY map_name
ORDER BY rounds DESC, map_name

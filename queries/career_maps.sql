-- One player's all-time stats per map (every game server), most played first.
-- Params: $guid.
SELECT map_name, rounds, kills, deaths, damage_given, time_played_s,
       CASE WHEN time_played_s > 0 THEN dpm_damage * 60.0 / time_played_s END AS dpm,
       CASE WHEN deaths > 0 THEN kills::DOUBLE / deaths ELSE kills::DOUBLE END AS kd
FROM career_maps
WHERE guid = $guid
ORDER BY rounds DESC, map_name

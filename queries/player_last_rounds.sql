-- A player's most recent counted rounds.
-- Params: $guid, $limit.
SELECT end_time, map_name, round_number, name, kills, deaths, damage_given, time_played_s,
       CASE WHEN time_played_s > 0 THEN damage_given * 60.0 / time_played_s END AS dpm
FROM player_rounds
WHERE guid = $guid AND counted
ORDER BY end_time DESC
LIMIT $limit

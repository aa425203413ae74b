-- One player's most recent counted rounds on one game server, newest first.
-- Params: $guid, $server, $limit (at most 5: the tails keep 5 rounds per player and session).
SELECT end_time, map_name, round_number, name, kills, deaths, damage_given, time_played_s,
       CASE WHEN time_played_s > 0 THEN damage_given * 60.0 / time_played_s END AS dpm
FROM player_round_tails
WHERE guid = $guid AND server = $server
ORDER BY end_time DESC, round_id DESC
LIMIT $limit

-- Every player's most recent counted rounds (career cards), from the per-session tails.
-- Params: $limit (at most 5: the tails keep 5 rounds per player and session), $server (NULL:
-- every game server).
SELECT guid, end_time, map_name, round_number, name, kills, deaths, damage_given, time_played_s,
       CASE WHEN time_played_s > 0 THEN damage_given * 60.0 / time_played_s END AS dpm
FROM player_round_tails
WHERE $server IS NULL OR server = $server
QUALIFY row_number() OVER (PARTITION BY guid ORDER BY end_time DESC, round_id DESC) <= $limit
ORDER BY guid, end_time DESC, round_id DESC

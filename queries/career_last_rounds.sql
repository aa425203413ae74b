-- One player's most recent counted rounds (every game server), newest first.
-- Params: $guid, $limit (at most 5: the career keeps 5 rounds per player).
SELECT end_time, map_name, round_number, name, kills, deaths, damage_given, time_played_s,
       CASE WHEN time_played_s > 0 THEN damage_given * 60.0 / time_played_s END AS dpm
FROM career_tails
WHERE guid = $guid
ORDER BY end_time DESC, round_id DESC
LIMIT $limit

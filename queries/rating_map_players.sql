-- The rating's input: stopwatch map results by player (serving table `map_players`, built
-- by rollup_map_players.sql), all of them or those of some session dates.
-- Params: $all (every date), $dates (the session dates to read otherwise).
SELECT match_id, session_id, session_date, map_name, start_time, end_time, guid,
       first_attack, seconds, map_seconds, result_first, dpm_damage, time_played_s
FROM map_players
WHERE $all OR session_date IN (SELECT unnest($dates::DATE[]))
ORDER BY start_time, match_id, guid

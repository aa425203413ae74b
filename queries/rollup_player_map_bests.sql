-- Serving rollup: every round of each player in each session on each map, for records and
-- personal bests — its end, file, kills, DPM (rounds of at least 5 minutes played: a
-- 40-second round is no record; null otherwise) and damage. Records and bests are broken
-- round by round: a best beaten twice on one map in one evening is two events, the second
-- beating the first (a row's best round alone lost the first; review 71). A best's history
-- is the rounds before it, also when a map is played again later in the session (a row
-- spans the other maps between).
-- Params: $dates (the session dates to build).
WITH pr AS (
    SELECT p.*, r.file_name,
           CASE WHEN p.time_played_s >= 300 THEN p.damage_given * 60.0 / p.time_played_s END AS dpm
    FROM player_rounds p
    JOIN rounds r ON r.round_id = p.round_id
    WHERE p.counted AND p.session_date IN (SELECT unnest($dates::DATE[]))
)
SELECT session_id, any_value(session_date) AS session_date, guid, map_name,
       arg_max(name, end_time) AS name,
       count(*)::BIGINT AS rounds,
       -- in time order: a struct sorts by its fields in order (list_sort of the list is
       -- cheaper than list(… ORDER BY …)). Which round set a best is read from it: the six
       -- arg_max columns (best_*_file, best_*_end) that said so cost more than the list
       list_sort(list({'end': end_time, 'file': file_name, 'kills': kills::BIGINT,
                       'dpm': dpm, 'damage': damage_given::BIGINT})) AS each_round,
       -- the row's bests, for a reader of the export (`social_map_bests`)
       max(kills)::BIGINT AS best_kills,
       max(dpm) AS best_dpm,
       max(damage_given)::BIGINT AS best_damage
FROM pr
GROUP BY session_id, guid, map_name

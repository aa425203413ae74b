-- Serving rollup: each player's best round of each session on each map — most kills,
-- best DPM (rounds of at least 5 minutes played: a 40-second round is no record) and most
-- damage — with the round it came from, for records and personal bests.
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
       -- every round's end: a personal best's history is the rounds before it, also when a
       -- map is played again later in the session (a row spans the other maps between)
       list(end_time ORDER BY end_time) AS ends,
       max(kills)::BIGINT AS best_kills,
       arg_max(file_name, kills * 1e12 - epoch(end_time)) AS best_kills_file,
       arg_max(end_time, kills * 1e12 - epoch(end_time)) AS best_kills_end,
       max(dpm) AS best_dpm,
       arg_max(file_name, dpm) AS best_dpm_file,
       arg_max(end_time, dpm) AS best_dpm_end,
       max(damage_given)::BIGINT AS best_damage,
       arg_max(file_name, damage_given * 1e12 - epoch(end_time)) AS best_damage_file,
       arg_max(end_time, damage_given * 1e12 - epoch(end_time)) AS best_damage_end
FROM pr
GROUP BY session_id, guid, map_name

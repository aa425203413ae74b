-- Serving rollup: per (session, player, map) totals of counted rows (per-map stats).
-- Params: $dates (the session dates to build).
SELECT session_id, any_value(session_date) AS session_date, any_value(server) AS server,
       guid, map_name,
       count(*)::BIGINT AS rounds,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths,
       sum(damage_given)::BIGINT AS damage_given, sum(time_played_s)::BIGINT AS time_played_s,
       sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END)::BIGINT AS dpm_damage
FROM player_rounds
WHERE counted AND session_date IN (SELECT unnest($dates::DATE[]))
GROUP BY session_id, guid, map_name

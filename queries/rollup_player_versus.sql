-- Serving rollup: per (session, player, opponent) kills and deaths from the endstats
-- versus rows (who killed whom), counted rounds only, both players known by GUID. Endstats
-- counts are per round (the writer's state is reset at every map load).
-- Params: $dates (the session dates to build).
SELECT session_id, any_value(session_date) AS session_date, guid, opponent_guid,
       arg_max(name, end_time) AS name, arg_max(opponent_name, end_time) AS opponent_name,
       count(DISTINCT round_id)::BIGINT AS rounds,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths
FROM endstats_versus
WHERE counted AND opponent_guid IS NOT NULL AND guid <> opponent_guid
  AND session_date IN (SELECT unnest($dates::DATE[]))
GROUP BY session_id, guid, opponent_guid

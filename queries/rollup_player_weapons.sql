-- Serving rollup: per (session, player, weapon) totals of counted rows (career weapons).
-- Params: $dates (the session dates to build).
SELECT session_id, any_value(session_date) AS session_date, any_value(server) AS server,
       guid, weapon_id,
       any_value(weapon) AS weapon,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths, sum(hits)::BIGINT AS hits,
       sum(shots)::BIGINT AS shots, sum(headshots)::BIGINT AS headshots
FROM weapon_rounds
WHERE counted AND session_date IN (SELECT unnest($dates::DATE[]))
GROUP BY session_id, guid, weapon_id

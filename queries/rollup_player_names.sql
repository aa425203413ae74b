-- Serving rollup: which names each GUID used in each session (all rows but bots: identity,
-- not stats), for aliases and player lookup.
-- Params: $dates (the session dates to build).
SELECT session_id, any_value(session_date) AS session_date, any_value(server) AS server,
       guid, name,
       count(*)::BIGINT AS rounds, min(end_time) AS first_seen, max(end_time) AS last_seen
FROM player_rounds
WHERE NOT is_bot AND session_date IN (SELECT unnest($dates::DATE[]))
GROUP BY session_id, guid, name

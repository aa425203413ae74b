-- Serving rollup: per (session, player, opponent) kills and deaths from the endstats
-- versus rows (who killed whom), counted rounds only, both players known by GUID, bots
-- left out (an omni-bot's GUID is `OMNIBOT` + its slot's tens, `OMNIBOT0`…`OMNIBOT6`, shared
-- by ten slots' bots; names `[BOT]…`, as the parser's is_bot). Endstats
-- counts are per round (the writer's state is reset at every map load).
-- Both directions of a pair, merged per round: for each (round, P, O) P's own block's row
-- if the file has one, else O's row about P with kills and deaths swapped (a file cut or
-- crashed inside P's block still tells P's duels through O's), then summed per session.
-- So the rows of (P, O) and (O, P) are mirrors wherever the two blocks agree.
-- Params: $dates (the session dates to build).
WITH v AS (
    SELECT session_id, session_date, round_id, end_time, guid, name, opponent_guid,
           opponent_name, kills, deaths
    FROM endstats_versus
    WHERE counted AND guid IS NOT NULL AND opponent_guid IS NOT NULL AND guid <> opponent_guid
      AND NOT starts_with(upper(guid), 'OMNIBOT') AND NOT starts_with(upper(opponent_guid), 'OMNIBOT')
      AND NOT starts_with(upper(ltrim(name)), '[BOT]')
      AND NOT starts_with(upper(ltrim(opponent_name)), '[BOT]')
      AND session_date IN (SELECT unnest($dates::DATE[]))
),
own AS (  -- one row per (round, player, opponent): his own block's
    SELECT session_id, any_value(session_date) AS session_date, round_id,
           any_value(end_time) AS end_time, guid, opponent_guid,
           min(name) AS name, min(opponent_name) AS opponent_name,
           sum(kills) AS kills, sum(deaths) AS deaths
    FROM v
    GROUP BY session_id, round_id, guid, opponent_guid
),
merged AS (
    SELECT session_id, session_date, round_id, end_time, guid, opponent_guid, name,
           opponent_name, kills, deaths
    FROM own
    UNION ALL
    -- the opponent's row about him, where his own block has none for that round
    SELECT m.session_id, m.session_date, m.round_id, m.end_time, m.opponent_guid AS guid,
           m.guid AS opponent_guid, m.opponent_name AS name, m.name AS opponent_name,
           m.deaths AS kills, m.kills AS deaths
    FROM own m
    ANTI JOIN own o
        ON o.round_id = m.round_id AND o.guid = m.opponent_guid AND o.opponent_guid = m.guid
)
SELECT session_id, any_value(session_date) AS session_date, guid, opponent_guid,
       arg_max(name, (end_time, name)) AS name,
       arg_max(opponent_name, (end_time, opponent_name)) AS opponent_name,
       count(DISTINCT round_id)::BIGINT AS rounds,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths
FROM merged
GROUP BY session_id, guid, opponent_guid

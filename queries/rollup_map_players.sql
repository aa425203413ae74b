-- Serving rollup: one row per (stopwatch map, player) of every counted map, the input of
-- the skill rating (etl_duck.domain.rating). A map counts when both its rounds count.
-- Teams by GUID sets (players swap sides between rounds, GUIDs do not): the team that
-- attacked first is the round-1 attackers plus the round-2 defenders. A player on both
-- teams during one map (a switch) belongs to the team he spent more of the map with.
-- `seconds` / `map_seconds` is his share of the map (partial play).
-- `result_first`: 1 the first attackers won, 0 they lost, 0.5 double fullhold (1-1).
-- Params: $dates (the session dates to build).
WITH r AS (
    SELECT *
    FROM rounds
    WHERE counted AND session_date IN (SELECT unnest($dates::DATE[]))
),
maps AS (
    SELECT r1.match_id, r1.session_id, r1.session_date, r1.map_name,
           r1.round_id AS r1_id, r2.round_id AS r2_id,
           r1.defender_side AS def1, r2.defender_side AS def2,
           r1.start_time, r2.end_time,
           CASE WHEN r2.attackers_won THEN 0.0 WHEN r1.attackers_won THEN 1.0 ELSE 0.5 END
               AS result_first
    FROM r r1
    JOIN r r2 ON r2.match_id = r1.match_id AND r2.round_number = 2
    WHERE r1.round_number = 1
),
pr AS (
    SELECT p.match_id, p.round_id, p.guid, p.team, p.time_played_s, p.kills, p.deaths,
           CASE WHEN p.time_played_s > 0 THEN p.damage_given ELSE 0 END AS dpm_damage,
           m.r1_id, m.r2_id,
           (p.round_id = m.r1_id AND p.team <> m.def1)
               OR (p.round_id = m.r2_id AND p.team = m.def2) AS with_first
    FROM player_rounds p
    JOIN maps m ON p.match_id = m.match_id AND p.round_id IN (m.r1_id, m.r2_id)
    WHERE p.counted AND p.team IN (1, 2)
      AND p.session_date IN (SELECT unnest($dates::DATE[]))
),
lengths AS (  -- a round's length: its duration, or its longest player time if that is more
    SELECT m.match_id,
           sum(greatest(coalesce(rr.duration_s, 0), coalesce(t.longest, 0))) AS map_seconds
    FROM maps m
    JOIN r rr ON rr.round_id IN (m.r1_id, m.r2_id)
    LEFT JOIN (SELECT round_id, max(time_played_s) AS longest FROM pr GROUP BY round_id) t
        ON t.round_id = rr.round_id
    GROUP BY m.match_id
),
per_player AS (
    SELECT match_id, guid,
           sum(CASE WHEN with_first THEN time_played_s ELSE 0 END) AS first_s,
           sum(CASE WHEN with_first THEN 0 ELSE time_played_s END) AS second_s,
           sum(dpm_damage)::BIGINT AS dpm_damage,
           sum(time_played_s)::BIGINT AS time_played_s,
           sum(kills)::BIGINT AS kills,
           sum(deaths)::BIGINT AS deaths
    FROM pr
    GROUP BY match_id, guid
)
SELECT m.session_id, m.session_date, m.match_id, m.map_name, m.start_time, m.end_time,
       p.guid,
       p.first_s >= p.second_s AS first_attack,
       greatest(p.first_s, p.second_s)::BIGINT AS seconds,
       l.map_seconds::DOUBLE AS map_seconds,
       m.result_first::DOUBLE AS result_first,
       p.dpm_damage, p.time_played_s, p.kills, p.deaths
FROM per_player p
JOIN maps m USING (match_id)
JOIN lengths l USING (match_id)
WHERE p.time_played_s > 0

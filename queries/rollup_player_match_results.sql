-- Serving rollup: who won each complete map (round 1 + round 2 counted), per player.
-- Side X = the round-1 attackers (they defend round 2), Y = the round-1 defenders. A player
-- belongs to the side he played more rounds of the map on (one round each way: left out).
-- The map is Y's if the round-2 attackers completed (they beat the clock), else X's if the
-- round-1 attackers completed, else a draw (double full hold) — STATS_FORMAT.md §5.8.
-- Params: $dates (the session dates to build).
WITH r AS (
    SELECT match_id, any_value(session_id) AS session_id, any_value(session_date) AS session_date,
           any_value(map_name) AS map_name, min(end_time) AS end_time,
           count(*) FILTER (WHERE round_number = 1) AS n1,
           count(*) FILTER (WHERE round_number = 2) AS n2,
           bool_or(attackers_won) FILTER (WHERE round_number = 1) AS r1_won,
           bool_or(attackers_won) FILTER (WHERE round_number = 2) AS r2_won,
           any_value(defender_side) FILTER (WHERE round_number = 1) AS def1,
           any_value(defender_side) FILTER (WHERE round_number = 2) AS def2
    FROM rounds
    WHERE counted AND session_date IN (SELECT unnest($dates::DATE[]))
    GROUP BY match_id
),
complete AS (SELECT * FROM r WHERE n1 = 1 AND n2 = 1),
sides AS (
    SELECT pr.match_id, pr.guid, arg_max(pr.name, pr.end_time) AS name,
           sum(CASE WHEN (pr.round_number = 1 AND pr.team <> c.def1)
                      OR (pr.round_number = 2 AND pr.team = c.def2) THEN 1 ELSE 0 END) AS x,
           sum(CASE WHEN (pr.round_number = 1 AND pr.team = c.def1)
                      OR (pr.round_number = 2 AND pr.team <> c.def2) THEN 1 ELSE 0 END) AS y
    FROM player_rounds pr
    JOIN complete c ON c.match_id = pr.match_id
    WHERE pr.counted AND pr.team IN (1, 2)
      AND pr.session_date IN (SELECT unnest($dates::DATE[]))
    GROUP BY pr.match_id, pr.guid
)
SELECT c.session_id, c.session_date, c.match_id, c.map_name, c.end_time, s.guid, s.name,
       CASE WHEN s.x > s.y THEN 'X' ELSE 'Y' END AS side,
       CASE WHEN c.r2_won THEN 'Y' WHEN c.r1_won THEN 'X' END AS winner,
       CASE WHEN NOT c.r2_won AND NOT c.r1_won THEN 'D'
            WHEN (CASE WHEN c.r2_won THEN 'Y' ELSE 'X' END) = (CASE WHEN s.x > s.y THEN 'X' ELSE 'Y' END)
            THEN 'W' ELSE 'L' END AS result
FROM complete c
JOIN sides s ON s.match_id = c.match_id
WHERE s.x <> s.y

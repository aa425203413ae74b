-- Career rollup: each player's all-time totals per map (counted rows). Runs over
-- player_map_sessions rows or over rows of this shape (see rollup_career_players.sql).
-- Input: `src`.
SELECT guid, map_name,
       sum(rounds)::BIGINT        AS rounds,
       sum(kills)::BIGINT         AS kills,
       sum(deaths)::BIGINT        AS deaths,
       sum(damage_given)::BIGINT  AS damage_given,
       sum(time_played_s)::BIGINT AS time_played_s,
       sum(dpm_damage)::BIGINT    AS dpm_damage
FROM src
GROUP BY guid, map_name
ORDER BY guid, map_name

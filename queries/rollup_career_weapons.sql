-- Career rollup: each player's all-time totals per weapon (counted rows). Runs over
-- player_weapon_sessions rows or over rows of this shape (see rollup_career_players.sql).
-- Input: `src`.
SELECT guid, weapon_id, any_value(weapon) AS weapon,
       sum(kills)::BIGINT AS kills, sum(deaths)::BIGINT AS deaths, sum(hits)::BIGINT AS hits,
       sum(shots)::BIGINT AS shots, sum(headshots)::BIGINT AS headshots
FROM src
GROUP BY guid, weapon_id
ORDER BY guid, weapon_id

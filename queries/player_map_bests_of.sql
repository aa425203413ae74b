-- One player's best round of each session on each map (serving rollup player_map_bests):
-- what /player's personal bests need, without the all-history social index.
SELECT * FROM player_map_bests WHERE guid = $guid ORDER BY session_date, session_id, map_name

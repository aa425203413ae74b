-- A player's career card in one query: the four parts of `career_weapons`,
-- `career_maps`, `career_last_rounds` and `career_player_aliases` (the same columns, order
-- and limit), each as a list of structs. One DuckDB round trip instead of four: the card's
-- LRU miss went ~12.5 → ~8.7 ms at 10 years (each part is a ~1–2.5 ms Parquet scan, the
-- rest was per-query cost).
-- Params: $guid, $limit (last rounds shown).
SELECT
  (SELECT list({'weapon': weapon, 'weapon_id': weapon_id, 'kills': kills, 'deaths': deaths,
                'hits': hits, 'shots': shots, 'headshots': headshots,
                'accuracy': CASE WHEN shots > 0 THEN 100.0 * hits / shots END}
               ORDER BY kills DESC, shots DESC, weapon_id)
   FROM career_weapons WHERE guid = $guid) AS weapons,
  (SELECT list({'map_name': map_name, 'rounds': rounds, 'kills': kills, 'deaths': deaths,
                'damage_given': damage_given, 'time_played_s': time_played_s,
                'dpm': CASE WHEN time_played_s > 0 THEN dpm_damage * 60.0 / time_played_s END,
                'kd': CASE WHEN deaths > 0 THEN kills::DOUBLE / deaths ELSE kills::DOUBLE END}
               ORDER BY rounds DESC, map_name)
   FROM career_maps WHERE guid = $guid) AS maps,
  (SELECT list({'end_time': end_time, 'map_name': map_name, 'round_number': round_number,
                'name': name, 'kills': kills, 'deaths': deaths, 'damage_given': damage_given,
                'time_played_s': time_played_s,
                'dpm': CASE WHEN time_played_s > 0 THEN damage_given * 60.0 / time_played_s END}
               ORDER BY end_time DESC, round_id DESC)
   FROM (SELECT * FROM career_tails WHERE guid = $guid
         ORDER BY end_time DESC, round_id DESC LIMIT $limit)) AS last_rounds,
  (SELECT list({'name': name, 'rounds': rounds, 'first_seen': first_seen,
                'last_seen': last_seen} ORDER BY last_seen DESC, name)
   FROM career_names WHERE guid = $guid) AS aliases

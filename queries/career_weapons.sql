-- One player's all-time weapon totals (every game server), most kills first.
-- Params: $guid.
SELECT weapon, weapon_id, kills, deaths, hits, shots, headshots,
       CASE WHEN shots > 0 THEN 100.0 * hits / shots END AS accuracy
FROM career_weapons
WHERE guid = $guid
ORDER BY kills DESC, shots DESC, weapon_id

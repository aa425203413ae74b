-- Both sides' players of some rounds (who holds a time record: the attackers of a
-- completion, the defenders of a hold).
-- Reads the partitions of the rounds' dates (the caller scopes player_rounds to them).
-- Params: $names (round file names).
SELECT r.file_name, p.guid, p.name, p.team <> r.defender_side AS attacking
FROM player_rounds p
JOIN rounds r ON r.round_id = p.round_id
WHERE r.file_name IN (SELECT unnest($names::VARCHAR[]))
  AND p.counted AND p.team IN (1, 2)
ORDER BY r.file_name, p.name

-- Every name each GUID has used (identity: all rows but bots, every game server), newest
-- first per player: the lookup of players by name.
SELECT guid, name, rounds, first_seen, last_seen
FROM career_names
ORDER BY guid, last_seen DESC, name

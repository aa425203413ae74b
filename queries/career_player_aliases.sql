-- One player's names (every game server), newest first: the card's aliases, and the
-- lookup of a full GUID without the index of every name.
-- Params: $guid.
SELECT name, rounds, first_seen, last_seen
FROM career_names
WHERE guid = $guid
ORDER BY last_seen DESC, name

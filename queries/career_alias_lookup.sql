-- The players who used a name, for a name lookup in a process that has not built the index
-- of every name (a fresh bot's first /player): the names whose lower case is $alias, and
-- every name that is not plain ASCII (strlen counts bytes, length characters), which the
-- caller compares with Python's lower() (the rules of the two engines may differ there).
-- Params: $alias (lower case).
SELECT guid, name
FROM career_names
WHERE lower(name) = $alias OR strlen(name) <> length(name)

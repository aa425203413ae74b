-- The endstats awards of one round, as the file lists them (the caller scopes
-- endstats_awards to the round's session date).
-- Params: $round_id.
SELECT award, name, guid, value, unit, value_text
FROM endstats_awards
WHERE round_id = $round_id
ORDER BY line_no

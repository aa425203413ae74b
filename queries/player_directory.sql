-- Known players and their names, for lookup by GUID prefix or (fuzzy) alias.
-- Params: $text (the lookup text).
SELECT guid,
       name,
       sum(rounds)::BIGINT                                 AS rounds,
       max(last_seen)                                      AS last_seen,
       starts_with(guid, upper($text))                     AS guid_match,
       jaro_winkler_similarity(lower(name), lower($text))  AS similarity,
       contains(lower(name), lower($text))                 AS contains_text
FROM career_names
GROUP BY guid, name

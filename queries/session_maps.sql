-- Per-map (match) results of one session (or of every session in a date range): counted
-- rounds only. Reads the partitions the caller scopes player_rounds to.
-- Params: $session_id (NULL = every session), $date_from, $date_to (session dates, inclusive).
WITH p AS (
    SELECT match_id, sum(kills)::BIGINT AS kills, sum(damage_given)::BIGINT AS damage_given
    FROM player_rounds
    WHERE ($session_id IS NULL OR session_id = $session_id) AND counted
    GROUP BY match_id
)
SELECT
    any_value(r.session_id)      AS session_id,
    r.match_id,
    any_value(r.map_name)        AS map_name,
    min(r.end_time)              AS first_end,
    count(*)                     AS rounds,
    sum(r.duration_s)            AS play_time_s,
    any_value(p.kills)           AS kills,
    any_value(p.damage_given)    AS damage_given
FROM rounds r
LEFT JOIN p USING (match_id)
WHERE r.session_date BETWEEN $date_from AND $date_to
  AND ($session_id IS NULL OR r.session_id = $session_id) AND r.counted
GROUP BY r.match_id
ORDER BY session_id, first_end

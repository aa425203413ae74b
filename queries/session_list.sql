-- Gaming sessions (one row each) between two session dates; counted rounds only for the
-- numbers, but every session that has any round is listed.
-- Params: $date_from, $date_to.
WITH players AS (
    SELECT session_id, count(DISTINCT guid) AS players
    FROM player_sessions
    WHERE session_date BETWEEN $date_from AND $date_to
    GROUP BY session_id
)
SELECT
    r.session_id,
    r.session_date,
    min(r.start_time)                                        AS start_time,
    max(r.end_time)                                          AS end_time,
    count(*) FILTER (WHERE r.counted)                        AS rounds,
    count(DISTINCT r.match_id) FILTER (WHERE r.counted)      AS matches,
    count(DISTINCT r.map_name) FILTER (WHERE r.counted)      AS maps,
    coalesce(any_value(p.players), 0)                        AS players
FROM rounds r
LEFT JOIN players p USING (session_id)
WHERE r.session_date BETWEEN $date_from AND $date_to
GROUP BY r.session_id, r.session_date
ORDER BY r.session_id DESC

-- Gaming sessions (one row each) between two session dates: those with at least one
-- counted round (the same definition `session DATE` and `last` use). `rounds` = counted
-- rounds, `matches` = maps played (a map played twice counts twice), `maps` = distinct maps.
-- Params: $date_from, $date_to, $server (NULL: every game server).
WITH players AS (
    SELECT session_id, count(DISTINCT guid) AS players
    FROM player_sessions
    WHERE session_date BETWEEN $date_from AND $date_to
      AND ($server IS NULL OR server = $server)
    GROUP BY session_id
)
SELECT
    r.session_id,
    r.session_date,
    any_value(r.server)                                      AS server,
    -- an evening's times are its played rounds' (rounds that were no game — an idle
    -- server's header-only ones, one side alone — join it, DECISIONS "Idle servers",
    -- "Rounds that are no game"); every round counts here only if none was played
    coalesce(min(r.start_time) FILTER (WHERE r.reason IS NULL
                                          OR r.reason NOT IN ('no_players', 'one_side')),
             min(r.start_time))                              AS start_time,
    coalesce(max(r.end_time) FILTER (WHERE r.reason IS NULL
                                        OR r.reason NOT IN ('no_players', 'one_side')),
             max(r.end_time))                                AS end_time,
    count(*) FILTER (WHERE r.counted)                        AS rounds,
    count(DISTINCT r.match_id) FILTER (WHERE r.counted)      AS matches,
    count(DISTINCT r.map_name) FILTER (WHERE r.counted)      AS maps,
    coalesce(any_value(p.players), 0)                        AS players
FROM rounds r
LEFT JOIN players p USING (session_id)
WHERE r.session_date BETWEEN $date_from AND $date_to
  AND ($server IS NULL OR r.server = $server)
GROUP BY r.session_id, r.session_date
HAVING count(*) FILTER (WHERE r.counted) > 0
ORDER BY start_time DESC, r.session_id DESC

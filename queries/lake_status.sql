-- Headline numbers of the lake.
SELECT
    (SELECT count(DISTINCT session_id) FROM rounds)                AS sessions,
    (SELECT count(*) FROM rounds)                                  AS rounds,
    (SELECT count(*) FROM rounds WHERE counted)                    AS counted_rounds,
    (SELECT count(DISTINCT guid) FROM player_name_sessions)         AS players,
    (SELECT min(session_date) FROM rounds)                          AS first_date,
    (SELECT max(session_date) FROM rounds)                          AS last_date

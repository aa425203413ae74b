-- Headline numbers of the lake. A session is one with at least one counted round (as in
-- `sessions` and `session DATE`); sessions of only uncounted rounds are counted apart.
SELECT
    (SELECT count(DISTINCT session_id) FROM rounds WHERE counted)  AS sessions,
    (SELECT count(DISTINCT session_id) FROM rounds)
      - (SELECT count(DISTINCT session_id) FROM rounds WHERE counted) AS sessions_without_counted_rounds,
    (SELECT count(*) FROM rounds)                                  AS rounds,
    (SELECT count(*) FROM rounds WHERE counted)                    AS counted_rounds,
    (SELECT count(DISTINCT guid) FROM player_name_sessions)         AS players,
    (SELECT min(session_date) FROM rounds WHERE counted)            AS first_date,
    (SELECT max(session_date) FROM rounds WHERE counted)            AS last_date

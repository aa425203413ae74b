-- The last session: the one with a counted round that ENDED last (by end time, then id;
-- not the largest id: another server's ids are larger). And the latest session date with
-- a counted round, where relative windows count from: with several servers, a session can
-- start on a later date and end before another. One row; NULLs when no round counts.
WITH counted AS (
    SELECT session_id, session_date, end_time
    FROM rounds
    WHERE counted
)
SELECT
    arg_max(session_id, (end_time, session_id))   AS session_id,
    arg_max(session_date, (end_time, session_id)) AS session_date,
    max(session_date)                             AS latest_date
FROM counted

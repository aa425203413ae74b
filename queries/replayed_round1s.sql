-- Counted round 1s without their round 2 whose map started again (a round 1 of it) within
-- 10 minutes of their end: a round-2 file that was lost, or a match reset and replayed —
-- the files cannot tell (DECISIONS.md "A round 1 replayed without its round 2"). Each with
-- the replay's start and whether it ended within $days days of its server's latest round.
-- Oldest first. Params: $days.
WITH r1 AS (
    SELECT * FROM rounds WHERE round_number = 1 AND counted
)
SELECT r.file_name, r.map_name, r.end_time, min(n.start_time) AS replay_start,
       any_value(r.end_time >= l.last_end - to_days(CAST($days AS INTEGER))) AS recent
FROM r1 r
JOIN rounds n
  ON n.server = r.server AND n.map_name = r.map_name AND n.round_number = 1
 AND n.file_name <> r.file_name
 AND n.start_time > r.end_time AND n.start_time <= r.end_time + INTERVAL 10 MINUTE
JOIN (SELECT server, max(end_time) AS last_end FROM rounds GROUP BY server) l
  ON l.server = r.server
WHERE NOT EXISTS (SELECT 1 FROM rounds p WHERE p.paired_round_id = r.round_id)
GROUP BY r.file_name, r.map_name, r.end_time
ORDER BY r.end_time, r.file_name

-- Round 2s without their round 1 (reason orphan_r2), oldest first, each with whether it
-- ended within $days days of its server's latest round (its round 1 may still be in the
-- server's folder: an open problem in status; older ones are listed). Params: $days.
SELECT r.file_name, r.map_name, r.start_time,
       r.end_time >= l.last_end - to_days(CAST($days AS INTEGER)) AS recent
FROM rounds r
JOIN (SELECT server, max(end_time) AS last_end FROM rounds GROUP BY server) l USING (server)
WHERE r.reason = 'orphan_r2'
ORDER BY r.end_time, r.file_name

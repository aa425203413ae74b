-- The session of each of some round files (the serving rounds table: no partition read).
-- Params: $names (file names).
SELECT file_name, round_id, match_id, session_id, session_date, map_name, round_number,
       end_time, counted, reason
FROM rounds
WHERE file_name IN (SELECT unnest($names::VARCHAR[]))
ORDER BY end_time, file_name

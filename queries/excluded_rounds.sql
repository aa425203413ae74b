-- Why rounds are left out of aggregates (one row per reason).
SELECT reason, count(*) AS rounds FROM rounds WHERE NOT counted GROUP BY reason
ORDER BY rounds DESC, reason  -- a tie in a stable order: exports and status compare byte for byte

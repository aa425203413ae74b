-- Each player's sessions with counted rounds, newest first: which partitions hold his
-- last rounds (career-card index).
SELECT guid, session_date, sum(rounds)::BIGINT AS rounds
FROM player_sessions
GROUP BY guid, session_date
ORDER BY guid, session_date DESC

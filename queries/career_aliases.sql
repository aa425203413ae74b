-- Every name each GUID has used (identity: all rows but bots), for the career-card index.
SELECT guid, name, sum(rounds)::BIGINT AS rounds, min(first_seen) AS first_seen,
       max(last_seen) AS last_seen
FROM player_name_sessions
GROUP BY guid, name
ORDER BY guid, last_seen DESC

-- Career rollup: every name each GUID has used (identity: all rows but bots), with rounds
-- and first/last seen. Runs over player_name_sessions rows or over rows of this shape (see
-- rollup_career_players.sql). Input: `src`.
SELECT guid, name, sum(rounds)::BIGINT AS rounds, min(first_seen) AS first_seen,
       max(last_seen) AS last_seen
FROM src
GROUP BY guid, name
ORDER BY guid, name

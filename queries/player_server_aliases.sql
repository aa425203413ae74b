-- One player's names on one game server, newest first: the server card's aliases, with
-- the rule of `career_player_aliases` (identity: all rows but bots) over that server's rows.
-- Params: $guid, $server.
SELECT name,
       sum(rounds)::BIGINT AS rounds,
       min(first_seen)     AS first_seen,
       max(last_seen)      AS last_seen
FROM player_name_sessions
WHERE guid = $guid AND server = $server
GROUP BY name
ORDER BY last_seen DESC, name

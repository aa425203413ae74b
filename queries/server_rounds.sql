-- Each game server's rounds (one row per server in the lake, the main server "" first):
-- `rounds` = its round files in the lake (as `status`' "rounds (files)"), `counted_rounds`
-- those that count, `last_round` = when its latest round ended (the time in the file's
-- name, on the server's clock): `status` shows a server that stopped sending rounds.
-- Params: $server (NULL: every game server).
SELECT
    server,
    count(*)                        AS rounds,
    count(*) FILTER (WHERE counted) AS counted_rounds,
    max(end_time)                   AS last_round
FROM rounds
WHERE $server IS NULL OR server = $server
GROUP BY server
ORDER BY server

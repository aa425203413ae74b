-- Each player's history before one session: his counted sessions that started before it,
-- on any date (earlier sessions of the same date too) and any game server. A session id
-- is YYYYMMDDHHMMSS of its start plus its server's offset, a multiple of 10^14
-- (domain/sources.py SESSION_SPAN): modulo 10^14 it is the start, which sorts in time.
-- The digest's "vs own average". Params: $session_id.
SELECT
    guid,
    sum(rounds)::BIGINT         AS rounds,
    sum(kills)::BIGINT          AS kills,
    sum(time_played_s)::BIGINT  AS time_played_s,
    sum(dpm_damage)::BIGINT     AS dpm_damage
FROM player_sessions
WHERE session_id % 100000000000000 < $session_id % 100000000000000
GROUP BY guid

-- Per-player totals over a window: the base of every leaderboard and of the metric registry.
-- Reads the serving rollup (one row per session and player, counted rows only — see
-- rollup_player_sessions.sql); windows are whole sessions, so the sums are exact.
-- Params: $date_from, $date_to (session dates, inclusive), $session_id (NULL = any),
-- $server (NULL = every game server).
SELECT
    guid,
    arg_max(name, last_end)              AS name,
    sum(rounds)::BIGINT                  AS rounds,
    sum(kills)::BIGINT                   AS kills,
    sum(deaths)::BIGINT                  AS deaths,
    sum(damage_given)::BIGINT            AS damage_given,
    sum(damage_received)::BIGINT         AS damage_received,
    sum(team_damage_given)::BIGINT       AS team_damage_given,
    sum(time_played_s)::BIGINT           AS time_played_s,
    sum(dpm_damage)::BIGINT              AS dpm_damage,
    sum(hits)::BIGINT                    AS hits,
    sum(shots)::BIGINT                   AS shots,
    sum(headshot_kills)::BIGINT          AS headshot_kills,
    sum(headshot_hits)::BIGINT           AS headshot_hits,
    sum(revives)::BIGINT                 AS revives,
    sum(times_revived)::BIGINT           AS times_revived,
    sum(gibs)::BIGINT                    AS gibs,
    sum(self_kills)::BIGINT              AS self_kills,
    sum(team_kills)::BIGINT              AS team_kills,
    sum(xp)::BIGINT                      AS xp,
    sum(objectives)::BIGINT              AS objectives,
    sum(multikills)::BIGINT              AS multikills,
    sum(time_dead_s)::BIGINT             AS time_dead_s,
    sum(denied_playtime_s)::BIGINT       AS denied_playtime_s,
    sum(grenade_kills)::BIGINT           AS grenade_kills
FROM player_sessions
WHERE session_date BETWEEN $date_from AND $date_to
  AND ($session_id IS NULL OR session_id = $session_id)
  AND ($server IS NULL OR server = $server)
GROUP BY guid

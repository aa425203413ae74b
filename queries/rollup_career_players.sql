-- Career rollup: one row per player, all time (every game server), for boards and cards
-- that must not sum the whole history on a request. Runs over per-session rows
-- (player_sessions) or over rows of this same shape (an older career), so a commit sums the
-- career of earlier years with the current year's sessions (etl_duck/lake/careers.py).
-- Input: `src`.
SELECT
    guid,
    arg_max(name, last_end)              AS name,
    max(last_end)                        AS last_end,
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
FROM src
GROUP BY guid
ORDER BY guid

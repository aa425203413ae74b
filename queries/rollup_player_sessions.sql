-- Serving rollup: one row per (session, player) with the sums every leaderboard needs.
-- Rebuilt for the changed session dates whenever the lake version changes, so
-- leaderboards over any window read ~10 rows per session instead of every player-round.
-- Counted rows only (orphan R2, interrupted, restarts, bots, spectators without time played
-- of their own… are excluded).
-- Params: $dates (the session dates to build).
WITH pr AS (
    SELECT *
    FROM player_rounds
    WHERE counted AND session_date IN (SELECT unnest($dates::DATE[]))
),
grenades AS (
    SELECT session_id, guid, sum(kills) AS grenade_kills
    FROM weapon_rounds
    WHERE counted AND weapon = 'grenade'
      AND session_date IN (SELECT unnest($dates::DATE[]))
    GROUP BY session_id, guid
)
SELECT
    pr.session_id,
    any_value(pr.session_date)                                       AS session_date,
    any_value(pr.server)                                             AS server,
    pr.guid,
    arg_max(pr.name, pr.end_time)                                    AS name,
    max(pr.end_time)                                                 AS last_end,
    count(*)::BIGINT                                                 AS rounds,
    sum(pr.kills)::BIGINT                                            AS kills,
    sum(pr.deaths)::BIGINT                                           AS deaths,
    sum(pr.damage_given)::BIGINT                                     AS damage_given,
    sum(pr.damage_received)::BIGINT                                  AS damage_received,
    sum(pr.team_damage_given)::BIGINT                                AS team_damage_given,
    sum(pr.time_played_s)::BIGINT                                    AS time_played_s,
    -- DPM numerator only over rows with time: a zero-time row cannot inflate DPM
    sum(CASE WHEN pr.time_played_s > 0 THEN pr.damage_given ELSE 0 END)::BIGINT AS dpm_damage,
    sum(pr.hits)::BIGINT                                             AS hits,
    sum(pr.shots)::BIGINT                                            AS shots,
    sum(pr.headshot_kills)::BIGINT                                   AS headshot_kills,
    sum(pr.headshot_hits)::BIGINT                                    AS headshot_hits,
    sum(pr.revives_given)::BIGINT                                    AS revives,
    sum(pr.times_revived)::BIGINT                                    AS times_revived,
    sum(pr.gibs)::BIGINT                                             AS gibs,
    sum(pr.self_kills)::BIGINT                                       AS self_kills,
    sum(pr.team_kills)::BIGINT                                       AS team_kills,
    sum(pr.xp)::BIGINT                                               AS xp,
    sum(pr.dynamites_planted + pr.dynamites_defused)::BIGINT         AS objectives,
    sum(pr.multikill_2 + pr.multikill_3 + pr.multikill_4 + pr.multikill_5 + pr.multikill_6)::BIGINT
                                                                     AS multikills,
    sum(pr.time_dead_s)::BIGINT                                      AS time_dead_s,
    sum(pr.denied_playtime_s)::BIGINT                                AS denied_playtime_s,
    coalesce(any_value(g.grenade_kills), 0)::BIGINT                  AS grenade_kills
FROM pr
LEFT JOIN grenades g USING (session_id, guid)
GROUP BY pr.session_id, pr.guid

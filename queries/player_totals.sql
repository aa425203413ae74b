-- Per-player totals over a window: the base of every leaderboard and of the metric registry.
-- Only rows the lake marks `counted` take part (orphan R2, interrupted, restarts, bots,
-- spectators, filler maps, bot-majority rounds are excluded the same way everywhere).
-- Params: $date_from, $date_to (session dates, inclusive), $session_id (NULL = any).
WITH pr AS (
    SELECT *
    FROM player_rounds
    WHERE counted
      AND session_date BETWEEN $date_from AND $date_to
      AND ($session_id IS NULL OR session_id = $session_id)
),
grenades AS (
    SELECT guid, sum(kills)::BIGINT AS grenade_kills
    FROM weapon_rounds
    WHERE counted
      AND weapon = 'grenade'
      AND session_date BETWEEN $date_from AND $date_to
      AND ($session_id IS NULL OR session_id = $session_id)
    GROUP BY guid
)
SELECT
    pr.guid,
    arg_max(pr.name, pr.end_time)                                   AS name,
    count(*)                                                        AS rounds,
    sum(pr.kills)::BIGINT                                                   AS kills,
    sum(pr.deaths)::BIGINT                                                  AS deaths,
    sum(pr.damage_given)::BIGINT                                            AS damage_given,
    sum(pr.damage_received)::BIGINT                                         AS damage_received,
    sum(pr.team_damage_given)::BIGINT                                       AS team_damage_given,
    sum(pr.time_played_s)::BIGINT                                           AS time_played_s,
    -- DPM numerator only over rows with time: a zero-time row cannot inflate DPM
    sum(CASE WHEN pr.time_played_s > 0 THEN pr.damage_given ELSE 0 END)::BIGINT AS dpm_damage,
    sum(pr.hits)::BIGINT                                                    AS hits,
    sum(pr.shots)::BIGINT                                                   AS shots,
    sum(pr.headshot_kills)::BIGINT                                          AS headshot_kills,
    sum(pr.headshot_hits)::BIGINT                                           AS headshot_hits,
    sum(pr.revives_given)::BIGINT                                           AS revives,
    sum(pr.times_revived)::BIGINT                                           AS times_revived,
    sum(pr.gibs)::BIGINT                                                    AS gibs,
    sum(pr.self_kills)::BIGINT                                              AS self_kills,
    sum(pr.team_kills)::BIGINT                                              AS team_kills,
    sum(pr.xp)::BIGINT                                                      AS xp,
    sum(pr.dynamites_planted + pr.dynamites_defused)::BIGINT                AS objectives,
    sum(pr.multikill_2 + pr.multikill_3 + pr.multikill_4 + pr.multikill_5 + pr.multikill_6)::BIGINT
                                                                    AS multikills,
    sum(pr.time_dead_s)::BIGINT                                             AS time_dead_s,
    sum(pr.denied_playtime_s)::BIGINT                                       AS denied_playtime_s,
    coalesce(any_value(g.grenade_kills), 0)                         AS grenade_kills
FROM pr
LEFT JOIN grenades g USING (guid)
GROUP BY pr.guid

-- Per-player round-only totals of one round or one match (both rounds), counted rows only,
-- with the same columns as player_totals.sql so the metric registry applies unchanged.
-- Reads the partition of one session date (the caller scopes player_rounds to it).
-- Params: $round_id (NULL = any), $match_id (NULL = any).
WITH picked AS (
    SELECT *
    FROM player_rounds
    WHERE counted
      AND ($round_id IS NULL OR round_id = $round_id)
      AND ($match_id IS NULL OR match_id = $match_id)
),
grenades AS (
    SELECT guid, sum(kills) AS grenade_kills
    FROM weapon_rounds
    WHERE counted AND weapon = 'grenade'
      AND round_id IN (SELECT DISTINCT round_id FROM picked)
    GROUP BY guid
)
SELECT
    guid,
    arg_max(name, end_time)                                          AS name,
    arg_max(team, end_time)                                          AS team,
    count(*)::BIGINT                                                 AS rounds,
    sum(kills)::BIGINT                                               AS kills,
    sum(deaths)::BIGINT                                              AS deaths,
    sum(damage_given)::BIGINT                                        AS damage_given,
    sum(damage_received)::BIGINT                                     AS damage_received,
    sum(team_damage_given)::BIGINT                                   AS team_damage_given,
    sum(time_played_s)::BIGINT                                       AS time_played_s,
    sum(CASE WHEN time_played_s > 0 THEN damage_given ELSE 0 END)::BIGINT AS dpm_damage,
    sum(hits)::BIGINT                                                AS hits,
    sum(shots)::BIGINT                                               AS shots,
    sum(headshot_kills)::BIGINT                                      AS headshot_kills,
    sum(headshot_hits)::BIGINT                                       AS headshot_hits,
    sum(revives_given)::BIGINT                                       AS revives,
    sum(times_revived)::BIGINT                                       AS times_revived,
    sum(gibs)::BIGINT                                                AS gibs,
    sum(self_kills)::BIGINT                                          AS self_kills,
    sum(team_kills)::BIGINT                                          AS team_kills,
    sum(xp)::BIGINT                                                  AS xp,
    sum(dynamites_planted + dynamites_defused)::BIGINT               AS objectives,
    sum(multikill_2 + multikill_3 + multikill_4 + multikill_5 + multikill_6)::BIGINT AS multikills,
    sum(time_dead_s)::BIGINT                                         AS time_dead_s,
    sum(denied_playtime_s)::BIGINT                                   AS denied_playtime_s,
    coalesce(any_value(g.grenade_kills), 0)::BIGINT                  AS grenade_kills
FROM picked
LEFT JOIN grenades g USING (guid)
GROUP BY guid

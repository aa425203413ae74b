-- Per-player totals of one session (or of every session in a date range), one row per
-- (session, player), with the columns of player_totals.sql so the metric registry applies
-- unchanged. Reads the serving rollup (counted rows only).
-- Params: $session_id (NULL = every session), $date_from, $date_to (session dates, inclusive).
SELECT
    session_id, guid, name, rounds, kills, deaths, damage_given, damage_received,
    team_damage_given, time_played_s, dpm_damage, hits, shots, headshot_kills, headshot_hits,
    revives, times_revived, gibs, self_kills, team_kills, xp, objectives, multikills,
    time_dead_s, denied_playtime_s, grenade_kills
FROM player_sessions
WHERE session_date BETWEEN $date_from AND $date_to
  AND ($session_id IS NULL OR session_id = $session_id)
ORDER BY session_id, guid

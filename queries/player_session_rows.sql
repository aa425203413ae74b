-- Every player's per-session totals (counted rows), ordered by GUID then session, with the
-- columns of player_totals.sql: the per-player session index (form, seasons, the dates a
-- player's pages depend on).
SELECT
    guid, session_id, session_date, name, rounds, kills, deaths, damage_given,
    damage_received, team_damage_given, time_played_s, dpm_damage, hits, shots,
    headshot_kills, headshot_hits, revives, times_revived, gibs, self_kills, team_kills, xp,
    objectives, multikills, time_dead_s, denied_playtime_s, grenade_kills
FROM player_sessions
ORDER BY guid, session_id

-- Serving rollup: each player's last 5 counted rounds of each session. A player's newest 5
-- rounds are always among the last 5 of his sessions, so a career card's "last rounds"
-- need no partition read, and this stays a per-session rollup that ingest maintains like
-- the others (5 is the card's length: Stats.LAST_ROUNDS).
-- Params: $dates (the session dates to build).
SELECT session_id, session_date, server, guid, round_id, end_time, map_name, round_number, name,
       kills, deaths, damage_given, time_played_s
FROM player_rounds
WHERE counted AND session_date IN (SELECT unnest($dates::DATE[]))
QUALIFY row_number() OVER (PARTITION BY session_id, guid ORDER BY end_time DESC, round_id DESC) <= 5

-- Career rollup: each player's 5 most recent counted rounds (the card's "last rounds").
-- Runs over player_round_tails rows or over rows of this shape (see
-- rollup_career_players.sql). Input: `src`.
SELECT session_id, session_date, server, guid, round_id, end_time, map_name, round_number,
       name, kills, deaths, damage_given, time_played_s
FROM src
QUALIFY row_number() OVER (PARTITION BY guid ORDER BY end_time DESC, round_id DESC) <= 5
ORDER BY guid, end_time DESC, round_id DESC

-- Every player's all-time totals (every game server): the career table the commit keeps,
-- read whole by all-time leaderboards and cards (a few hundred rows, whatever the history).
SELECT * EXCLUDE (last_end)
FROM career_players

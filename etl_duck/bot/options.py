"""Text options with a length: Discord enforces ``max_length`` in its client and its API, so a
user cannot type more than an answer can echo. Without one a string option takes 6,000
characters, and an error that quotes the input ("`…` is not a date") broke the 2,000-character
limit of a message: Discord refused the answer and the user saw "did not respond" (found by
the Discord emulator, tests/test_bot_wire.py).
"""

from __future__ import annotations

from discord import app_commands

#: a player name (ET keeps 35 characters) or a GUID (prefix)
PlayerText = app_commands.Range[str, 1, 64]
#: a leaderboard key, e.g. ``dpm`` or ``headshot_rate``
StatText = app_commands.Range[str, 1, 32]
#: ``all``, ``season``, … or ``YYYY-MM-DD..YYYY-MM-DD``
WindowText = app_commands.Range[str, 1, 32]
#: a session's ``YYYY-MM-DD`` (or ``last``), or its id (14 digits; another game server's: up
#: to 18), which the date options' autocomplete sends
DateText = app_commands.Range[str, 1, 18]
#: ``YYYY-MM``
MonthText = app_commands.Range[str, 1, 7]
#: a game server's short name (``main`` = the first)
ServerText = app_commands.Range[str, 1, 32]
#: a map's BSP name, e.g. ``sw_goldrush_te``
MapText = app_commands.Range[str, 1, 64]
#: a name to show on a card, or a team's name
NameText = app_commands.Range[str, 1, 32]
#: names or GUIDs, comma-separated (a team, or everyone in voice for /balance)
PlayersText = app_commands.Range[str, 1, 800]
#: pairs of players, ``a+b; c+d``
PairsText = app_commands.Range[str, 1, 400]

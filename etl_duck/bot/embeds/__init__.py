"""Embed builders: pure functions from query results to ``discord.Embed``."""

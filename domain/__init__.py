"""Tally's write-side domain: aggregates, commands, events and command handlers."""

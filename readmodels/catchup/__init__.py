"""Catch-up: apply the event log to the read tables, batch by batch, exactly once in effect.

checkpoints (the locked checkpoint row and the window of events a batch covers), batch
(applying one batch), failures (isolate, retry, park), loop (catch_up, wait_for_position).
"""

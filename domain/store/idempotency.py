"""How long Idempotency-Key claims are kept, and their purge (run by beat)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete

from domain.store.tables import idempotency_keys

KEEP_FOR = dt.timedelta(hours=24)


def purge_expired(engine: Engine, now: dt.datetime | None = None) -> int:
    """Delete the keys older than KEEP_FOR; returns how many went."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - KEEP_FOR
    with engine.begin() as conn:
        return conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)
        ).rowcount

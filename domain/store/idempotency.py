"""Idempotency-Key claims, stored per caller in the write database: claim a key for a
request, keep its response for replay, release it, and purge keys past KEEP_FOR (beat runs
the purge hourly). The HTTP side (api/idempotency.py) reads the headers and shapes answers."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.store.db import as_utc
from domain.store.tables import idempotency_keys

KEEP_FOR = dt.timedelta(hours=24)
# A claim older than this without a response belongs to a request that died mid-way.
ABANDONED_AFTER = dt.timedelta(minutes=5)


class KeyReused(Exception):
    """The key was claimed for a different request."""


class KeyRunning(Exception):
    """The key's first request is still running (or another retry took it over first)."""


@dataclass(frozen=True)
class KeptResponse:
    """The first request's response, as kept for a replay."""

    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IdempotencyKeys:
    engine: Engine
    # For the single statements: no BEGIN and COMMIT round trips around them.
    autocommit: Engine = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "autocommit", self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    def claim(
        self, caller_id: uuid.UUID, key: str, request_hash: str, now: dt.datetime
    ) -> KeptResponse | None:
        """Claim the key for this request (None: run it), or the response its first request
        kept. An expired key is a new claim, whether or not the purge has deleted it yet."""
        try:
            with self.autocommit.connect() as conn:
                conn.execute(
                    insert(idempotency_keys).values(
                        caller_id=caller_id, key=key, request_hash=request_hash, created_at=now
                    )
                )
            return None
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            stored = conn.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.caller_id == caller_id, idempotency_keys.c.key == key
                )
            ).one()
            claimed_at = as_utc(stored.created_at)
            assert claimed_at is not None
            if claimed_at <= now - KEEP_FOR:
                _take_over(conn, stored, request_hash, now)
                return None
            if stored.request_hash != request_hash:
                raise KeyReused(key)
            if stored.status_code is None:
                if claimed_at > now - ABANDONED_AFTER:
                    raise KeyRunning(key)
                _take_over(conn, stored, request_hash, now)
                return None
        return KeptResponse(stored.status_code, stored.response_body)

    def keep(self, caller_id: uuid.UUID, key: str, response: KeptResponse) -> None:
        """Keep the response for replays of this key."""
        with self.autocommit.connect() as conn:
            conn.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.caller_id == caller_id, idempotency_keys.c.key == key)
                .values(status_code=response.status_code, response_body=response.body)
            )

    def release(self, caller_id: uuid.UUID, key: str) -> None:
        """Forget the claim, so that a retry runs again."""
        with self.autocommit.connect() as conn:
            conn.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.caller_id == caller_id, idempotency_keys.c.key == key
                )
            )


def _take_over(conn: Connection, stored: Row[Any], request_hash: str, now: dt.datetime) -> None:
    """Claim a stored key anew for this request: it expired, or its request died mid-way.
    Only if nobody claimed it since it was read: two retries racing for it must not both run."""
    claimed = conn.execute(
        update(idempotency_keys)
        .where(
            idempotency_keys.c.caller_id == stored.caller_id,
            idempotency_keys.c.key == stored.key,
            idempotency_keys.c.created_at == stored.created_at,
        )
        .values(request_hash=request_hash, created_at=now, status_code=None, response_body=None)
    )
    if claimed.rowcount != 1:
        raise KeyRunning(stored.key)


def purge_expired(engine: Engine, now: dt.datetime | None = None) -> int:
    """Delete the keys older than KEEP_FOR; returns how many went."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - KEEP_FOR
    with engine.begin() as conn:
        return conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)
        ).rowcount

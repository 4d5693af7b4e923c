"""The failure policy: a failing event is retried with capped exponential backoff, then
parked with its error, as is every later event with the same key, so per-key order holds
while other keys go on."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from domain.store.db import utc_now
from domain.store.event_log import RecordedEvent
from readmodels.catchup.checkpoints import CheckpointRow, advance
from readmodels.projection import Projection
from readmodels.tables import parked_events

log = logging.getLogger(__name__)

ERROR_LENGTH = 4000
BLOCKED = "an earlier event with this key is parked"
FAILED = {"failures": 1}  # the counter a failure adds to


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))


@dataclass(frozen=True)
class Failure:
    """An event whose projector raised, applied alone after `applied` events of its batch
    that went through, the last of them at `position`."""

    projection: Projection
    checkpoint: CheckpointRow
    event: RecordedEvent
    error: Exception
    position: int
    applied: int

    @property
    def message(self) -> str:
        return f"{self.event.event_type} at position {self.event.position}: {self.error!r}"


def parked_keys(conn: Connection, name: str) -> set[str]:
    return set(
        conn.execute(
            select(parked_events.c.event_key).where(parked_events.c.projection == name).distinct()
        ).scalars()
    )


def park(conn: Connection, projection: Projection, event: RecordedEvent, error: str) -> None:
    conn.execute(
        insert(parked_events).values(
            projection=projection.name,
            position=event.position,
            event_key=projection.key(event),
            event_type=event.event_type,
            error=error[:ERROR_LENGTH],
            parked_at=utc_now(),
        )
    )


def park_blocked(
    conn: Connection, projection: Projection, events: list[RecordedEvent]
) -> list[RecordedEvent]:
    """Park the events whose key already has a parked event; return the others."""
    keys = parked_keys(conn, projection.name)
    runnable = []
    for event in events:
        if projection.key(event) in keys:
            park(conn, projection, event, BLOCKED)
        else:
            runnable.append(event)
    return runnable


def record_failure(conn: Connection, failure: Failure, policy: RetryPolicy) -> dt.datetime | None:
    """Record the failure on the checkpoint, and park the event after the policy's last
    attempt. Returns when to retry, or None when the event was parked and the checkpoint moved
    past it."""
    checkpoint, event, name = failure.checkpoint, failure.event, failure.projection.name
    same_event = checkpoint.failing_position == event.position
    attempts = (checkpoint.failing_attempts if same_event else 0) + 1
    error = {"last_error": failure.message[:ERROR_LENGTH], "last_error_at": utc_now()}
    if attempts >= policy.max_attempts:
        log.error("projection %s parks %s after %d attempts", name, failure.message, attempts)
        park(conn, failure.projection, event, failure.message)
        cleared = {"failing_position": None, "failing_attempts": 0, "retry_at": None}
        advance(conn, name, checkpoint, event.position, failure.applied, FAILED, **error, **cleared)
        return None
    retry_at = utc_now() + dt.timedelta(seconds=policy.delay(attempts))
    log.warning(
        "projection %s: attempt %d failed, retry at %s: %s",
        name,
        attempts,
        retry_at,
        failure.message,
    )
    failing = {
        "failing_position": event.position,
        "failing_attempts": attempts,
        "retry_at": retry_at,
    }
    advance(conn, name, checkpoint, failure.position, failure.applied, FAILED, **error, **failing)
    return retry_at

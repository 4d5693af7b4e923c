"""How far behind each projection is, and whether it is moving."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, select

from domain.store import event_log
from domain.store.db import Databases, as_utc, utc_now
from domain.store.tables import event_log as event_log_table
from readmodels.projection import Projection
from readmodels.registry import PROJECTIONS
from readmodels.tables import parked_events, projection_checkpoints

STALLED_AFTER = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    version: int
    checkpoint: int
    head: int
    lag_events: int
    lag_seconds: float
    status: str
    parked: int
    last_error: str | None
    events_applied: int
    failures: int

    def as_row(self) -> dict[str, Any]:
        """What operators see (the counters go to metrics)."""
        row = asdict(self)
        del row["events_applied"], row["failures"]
        return row


def projection_status(databases: Databases) -> list[dict[str, Any]]:
    """Per projection: checkpoint, head, lag in events and seconds, parked, last error, status."""
    return [status.as_row() for status in statuses(databases)]


def statuses(databases: Databases) -> list[ProjectionStatus]:
    now = utc_now()
    with databases.read_autocommit.connect() as read_conn:
        checkpoints = {row.name: row for row in read_conn.execute(select(projection_checkpoints))}
        parked_counts = select(parked_events.c.projection, func.count()).group_by(
            parked_events.c.projection
        )
        parked: dict[str, int] = {name: count for name, count in read_conn.execute(parked_counts)}
    with databases.write_autocommit.connect() as write_conn:
        head = event_log.head_position(write_conn)
        return [
            _status(write_conn, projection, checkpoints[name], parked.get(name, 0), head, now)
            for name, projection in PROJECTIONS.items()
        ]


def _status(
    conn: Connection,
    projection: Projection,
    checkpoint: Row[Any],
    parked: int,
    head: int,
    now: dt.datetime,
) -> ProjectionStatus:
    pending = (
        event_log_table.c.position > checkpoint.position,
        event_log_table.c.event_type.in_(sorted(projection.event_types)),
    )
    lag_events, oldest_at = conn.execute(
        select(func.count(), func.min(event_log_table.c.recorded_at)).where(*pending)
    ).one()
    oldest = as_utc(oldest_at)
    last_progress = as_utc(checkpoint.last_progress_at)
    if checkpoint.status == "rebuilding":
        status = "rebuilding"
    elif parked or checkpoint.failing_position is not None:
        status = "failing"
    elif lag_events == 0:
        status = "ok"
    elif oldest and now - max(filter(None, (last_progress, oldest))) > STALLED_AFTER:
        status = "stalled"
    else:
        status = "catching_up"
    return ProjectionStatus(
        name=projection.name,
        version=projection.version,
        checkpoint=checkpoint.position,
        head=head,
        lag_events=lag_events,
        lag_seconds=round((now - oldest).total_seconds(), 3) if oldest else 0.0,
        status=status,
        parked=parked,
        last_error=checkpoint.last_error,
        events_applied=checkpoint.events_applied,
        failures=checkpoint.failures,
    )

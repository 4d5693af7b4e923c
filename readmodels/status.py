"""How far behind each projection is, and whether it is moving."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from domain.store import event_log
from domain.store.db import Databases, as_utc
from domain.store.tables import event_log as event_log_table
from readmodels.registry import PROJECTIONS
from readmodels.tables import parked_events, projection_checkpoints

STALLED_AFTER = dt.timedelta(seconds=30)


def projection_status(databases: Databases) -> list[dict[str, Any]]:
    """Per projection: checkpoint, head, lag in events and seconds, parked, last error, status."""
    now = dt.datetime.now(dt.UTC)
    with databases.read_autocommit.connect() as read_conn:
        checkpoints = {row.name: row for row in read_conn.execute(select(projection_checkpoints))}
        parked_counts = select(parked_events.c.projection, func.count()).group_by(
            parked_events.c.projection
        )
        parked = dict(read_conn.execute(parked_counts).all())
    rows = []
    with databases.write_autocommit.connect() as write_conn:
        head = event_log.head_position(write_conn)
        for name, projection in PROJECTIONS.items():
            checkpoint = checkpoints[name]
            pending = (
                event_log_table.c.position > checkpoint.position,
                event_log_table.c.event_type.in_(sorted(projection.event_types)),
            )
            lag_events, oldest = write_conn.execute(
                select(func.count(), func.min(event_log_table.c.recorded_at)).where(*pending)
            ).one()
            oldest = as_utc(oldest)
            lag_seconds = (now - oldest).total_seconds() if oldest else 0.0
            last_progress = as_utc(checkpoint.last_progress_at)
            if checkpoint.status == "rebuilding":
                status = "rebuilding"
            elif parked.get(name) or checkpoint.failing_position is not None:
                status = "failing"
            elif lag_events == 0:
                status = "ok"
            elif oldest and now - max(filter(None, (last_progress, oldest))) > STALLED_AFTER:
                status = "stalled"
            else:
                status = "catching_up"
            rows.append(
                {
                    "name": name,
                    "version": projection.version,
                    "checkpoint": checkpoint.position,
                    "head": head,
                    "lag_events": lag_events,
                    "lag_seconds": round(lag_seconds, 3),
                    "status": status,
                    "parked": parked.get(name, 0),
                    "last_error": checkpoint.last_error,
                }
            )
    return rows

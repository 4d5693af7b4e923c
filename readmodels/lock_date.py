"""lock_date: the firm's lock date, for GET /settings/lock-date."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Connection

from domain import events
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.projection import Projection, TableSet, key_by, upsert


def on_lock_date_set(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    upsert(
        conn,
        t.lock_date,
        {
            "firm_id": uuid.UUID(data["firm_id"]),
            "lock_date": dt.date.fromisoformat(data["lock_date"]) if data["lock_date"] else None,
            "set_by": uuid.UUID(data["actor_id"]) if data["actor_id"] else None,
        },
        ("firm_id",),
    )


projection = Projection(
    name="lock_date",
    version=1,
    tables=(tables.lock_date,),
    handlers={events.LockDateSet: on_lock_date_set},
    key=key_by("firm_id"),
    critical_events=frozenset({events.LockDateSet}),
)

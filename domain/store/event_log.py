"""The event log: the outbox and the audit trail, kept forever.

Positions must grow in commit order, not insert order. If transaction A took position 10 and B
took 11, and B committed first, a projector that had already advanced past 11 would never see
10. So on PostgreSQL every appending transaction takes one transaction-scoped advisory lock as
its last step before commit and only then draws its positions: the lock is held until commit,
so whoever draws a higher position commits later. The cost is that appends (only the final
insert and the commit) are serialized. SQLite has a single writer already, and every write
transaction there begins IMMEDIATE. A rolled-back append leaves a gap that is never filled,
which readers may safely pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
)

from domain.events import Event
from domain.store.tables import event_log

EVENT_LOG_LOCK_KEY = 0x7A11E7  # an arbitrary constant that names the event log's append lock


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    event_id: uuid.UUID
    event_type: str
    schema_version: int
    aggregate_type: str
    aggregate_id: uuid.UUID
    aggregate_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: dt.datetime


@dataclass(frozen=True)
class PendingEvent:
    event: Event
    aggregate_type: str
    aggregate_id: uuid.UUID
    aggregate_version: int
    metadata: dict[str, Any] = field(default_factory=dict)


def append(connection: Connection, pending: Sequence[PendingEvent]) -> list[int]:
    """Append events as the last step of a transaction; returns their positions."""
    if not pending:
        return []
    recorded_at = dt.datetime.now(dt.UTC)
    rows = [
        {
            "event_id": uuid.uuid4(),
            "event_type": item.event.event_type,
            "schema_version": item.event.schema_version,
            "aggregate_type": item.aggregate_type,
            "aggregate_id": item.aggregate_id,
            "aggregate_version": item.aggregate_version,
            "data": item.event.payload(),
            "metadata": item.metadata,
            "recorded_at": recorded_at,
        }
        for item in pending
    ]
    if connection.dialect.name == "postgresql":
        return _append_locked(connection, rows)
    return [connection.execute(APPEND, row).scalar_one() for row in rows]


def _append_locked(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """PostgreSQL: take the append lock and insert every event in one statement (one round
    trip, whatever the number of events); the events go as one JSON array."""
    events = json.dumps(
        [
            row
            | {
                "event_id": str(row["event_id"]),
                "aggregate_id": str(row["aggregate_id"]),
                "recorded_at": row["recorded_at"].isoformat(),
            }
            for row in rows
        ]
    )
    values = {"lock_key": EVENT_LOG_LOCK_KEY, "events": events}
    return list(connection.execute(APPEND_LOCKED, values).scalars())


# Built once: every command appends (see repositories._STATEMENTS for why that matters).
APPEND = insert(event_log).returning(event_log.c.position)

# Each event's column and how it is read from the event's JSON object (`e.value`).
APPENDED_COLUMNS = {
    "event_id": "CAST(e.value->>'event_id' AS uuid)",
    "event_type": "e.value->>'event_type'",
    "schema_version": "CAST(e.value->>'schema_version' AS integer)",
    "aggregate_type": "e.value->>'aggregate_type'",
    "aggregate_id": "CAST(e.value->>'aggregate_id' AS uuid)",
    "aggregate_version": "CAST(e.value->>'aggregate_version' AS integer)",
    "data": "e.value->'data'",
    "metadata": "e.value->'metadata'",
    "recorded_at": "CAST(e.value->>'recorded_at' AS timestamptz)",
}
# The lock (a MATERIALIZED CTE, so that it is neither inlined nor dropped) is joined to every
# event row, so it is taken before the first row reaches the INSERT, whose default draws the
# position: no position is drawn before the lock is held. The rows keep the array's order
# (WITH ORDINALITY), and so do the positions drawn and returned.
APPEND_LOCKED = text(
    "WITH held AS MATERIALIZED (SELECT pg_advisory_xact_lock(:lock_key)) "
    f"INSERT INTO event_log ({', '.join(APPENDED_COLUMNS)}) "
    f"SELECT {', '.join(APPENDED_COLUMNS.values())} "
    "FROM held, jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(value, ordinal) "
    "ORDER BY e.ordinal RETURNING position"
)

# Projectors never read an event's metadata: leave it out of their reads (a JSON decode less).
# The columns are RecordedEvent's fields in order, metadata left out.
PROJECTED_COLUMNS = [
    event_log.c[field.name]
    for field in dataclasses.fields(RecordedEvent)
    if field.name != "metadata"
]

METADATA_INDEX = [field.name for field in dataclasses.fields(RecordedEvent)].index("metadata")


def projected_event(values: Sequence[Any]) -> RecordedEvent:
    """A RecordedEvent from the values of PROJECTED_COLUMNS, in order (positional: a rebuild
    builds one per event, and a mapping per row costs more)."""
    fields = [*values[:METADATA_INDEX], {}, *values[METADATA_INDEX:]]
    return RecordedEvent(*fields)


def read_range(
    connection: Connection, after: int, upto: int, event_types: Iterable[str]
) -> list[RecordedEvent]:
    """Events of these types with after < position <= upto, for a projector (no metadata).

    A primary-key range scan whatever the table's statistics say.
    """
    statement = _range_query(frozenset(event_types))
    rows = connection.execute(statement, {"after": after, "upto": upto}).all()
    return [projected_event(row) for row in rows]


@functools.lru_cache(maxsize=64)
def _range_query(event_types: frozenset[str]) -> Select[Any]:
    """Built once per projection's set of types: projectors read a range every batch."""
    return (
        select(*PROJECTED_COLUMNS)
        .where(
            event_log.c.position > bindparam("after"),
            event_log.c.position <= bindparam("upto"),
            of_types(event_types),
        )
        .order_by(event_log.c.position)
    )


def any_in_range(connection: Connection, after: int, upto: int, event_types: Iterable[str]) -> bool:
    """Whether any event of these types lies in after < position <= upto."""
    statement = select(
        select(event_log.c.position)
        .where(
            event_log.c.position > after,
            event_log.c.position <= upto,
            of_types(event_types),
        )
        .exists()
    )
    return bool(connection.execute(statement).scalar_one())


def of_types(event_types: Iterable[str]) -> ColumnElement[bool]:
    """event_type IN these types, one bound parameter each. A list given to in_() becomes an
    expanding parameter, whose SQL is rendered again at every execution even when the statement
    is built once; a projector's types never change, so they need not expand."""
    return event_log.c.event_type.in_([literal(name, String) for name in sorted(event_types)])


def head_position(connection: Connection) -> int:
    head: int = connection.execute(HEAD_QUERY).scalar_one()
    return head


def read_positions(connection: Connection, positions: Sequence[int]) -> list[RecordedEvent]:
    rows = connection.execute(
        select(event_log)
        .where(event_log.c.position.in_(list(positions)))
        .order_by(event_log.c.position)
    )
    return [RecordedEvent(**row._mapping) for row in rows]


# The head position, alone or embedded in another statement.
HEAD_QUERY: Select[int] = select(func.coalesce(func.max(event_log.c.position), 0))

"""What a projection is: named read tables plus a projector for some event types."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Insert, MetaData, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import conv

from domain import events
from domain.events import Event
from domain.store.event_log import RecordedEvent
from domain.store.tables import NAMING_CONVENTION
from readmodels.upcasting import upcast

SHADOW_SUFFIX = "__rebuild"


class TableSet:
    """A projection's tables by their live names, pointing at live or shadow tables."""

    def __init__(self, tables: Mapping[str, Table]) -> None:
        self._tables = dict(tables)

    def __getattr__(self, name: str) -> Table:
        try:
            return self._tables[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[Table]:
        return iter(self._tables.values())


Handler = Callable[[Connection, TableSet, RecordedEvent], None]


class Fold(Protocol):
    """Accumulates a run of events in memory and writes their net effect in a few statements."""

    def add(self, event: RecordedEvent) -> None: ...

    def flush(self, conn: Connection, tables: TableSet) -> None: ...


@dataclass(frozen=True)
class Projection:
    """Named read tables plus a projector.

    `handlers` apply one event each, keyed by event class (the log stores an event under its
    class's `event_type`). Events of the classes in `folded` are instead accumulated by a
    fresh `fold()` across a run of such events and flushed before any other event (and at
    the end of the batch), which keeps event order while writing in bulk. Applied alone (to
    isolate a failure), an event goes through the same fold: one code path either way.
    `critical_events` are caught up before the command that recorded them answers.
    Every class named must be an event of domain/events.py: a projection naming anything
    else fails when it is built, that is when the registry imports it.
    """

    name: str
    version: int
    tables: tuple[Table, ...]
    handlers: Mapping[type[Event], Handler]
    key: Callable[[RecordedEvent], str]
    critical_events: frozenset[type[Event]] = frozenset()
    fold: Callable[[], Fold] | None = None
    folded: frozenset[type[Event]] = frozenset()
    _by_type: Mapping[str, Handler] = field(init=False, repr=False, compare=False)
    _folded_types: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for kind in (*self.handlers, *self.folded, *self.critical_events):
            check_event_class(self.name, kind)
        if self.folded and self.fold is None:
            raise TypeError(f"projection {self.name} folds events but has no fold")
        if not self.critical_events <= set(self.handlers) | self.folded:
            raise ValueError(f"projection {self.name} has critical events it does not apply")
        by_type = {kind.event_type: handler for kind, handler in self.handlers.items()}
        object.__setattr__(self, "_by_type", by_type)
        object.__setattr__(self, "_folded_types", frozenset(k.event_type for k in self.folded))

    @property
    def event_types(self) -> frozenset[str]:
        """The names, as the log stores them, of the events this projection applies."""
        return frozenset(kind.event_type for kind in (*self.handlers, *self.folded))

    @property
    def critical_event_types(self) -> frozenset[str]:
        return frozenset(kind.event_type for kind in self.critical_events)

    def live_tables(self) -> TableSet:
        return TableSet({table.name: table for table in self.tables})

    def shadow_tables(self) -> TableSet:
        shadow_metadata = MetaData(naming_convention=NAMING_CONVENTION)
        shadows = {}
        for table in self.tables:
            shadow = table.to_metadata(shadow_metadata, name=table.name + SHADOW_SUFFIX)
            # Index and constraint names are schema-wide on PostgreSQL: give the shadow its own.
            shadow.primary_key.name = conv(f"pk_{shadow.name}")
            for index in shadow.indexes:
                index.name = conv(f"{index.name}{SHADOW_SUFFIX}")
            shadows[table.name] = shadow
        return TableSet(shadows)

    def apply(self, connection: Connection, tables: TableSet, event: RecordedEvent) -> None:
        self.apply_batch(connection, tables, [event])

    def apply_batch(
        self, connection: Connection, tables: TableSet, events: Sequence[RecordedEvent]
    ) -> None:
        pending: Fold | None = None
        for stored in events:
            # Here rather than where events are read: a missing upcaster then fails like a
            # projector, so the event is isolated, retried and parked, and other keys go on.
            event = upcast(stored)
            if event.event_type in self._folded_types and self.fold is not None:
                pending = pending or self.fold()
                pending.add(event)
                continue
            if pending is not None:
                pending.flush(connection, tables)
                pending = None
            self._by_type[event.event_type](connection, tables, event)
        if pending is not None:
            pending.flush(connection, tables)


def check_event_class(projection: str, kind: object) -> None:
    """Raise unless `kind` is an event class of domain/events.py that events are recorded as
    (not a base class such as TimeEntryEvent)."""
    if not (isinstance(kind, type) and issubclass(kind, Event)):
        raise TypeError(f"projection {projection}: {kind!r} is not an event class")
    if kind.__subclasses__() or vars(events).get(kind.__name__) is not kind:
        raise LookupError(f"projection {projection}: {kind.__name__} is not an event it can get")


def upsert(
    connection: Connection,
    table: Table,
    values: dict[str, Any] | list[dict[str, Any]],
    key: tuple[str, ...],
) -> None:
    """Insert rows, or update the existing rows with the same key (each row has the same
    columns). A short list of rows goes in one statement (see insert_rows)."""
    columns = tuple(values[0] if isinstance(values, list) else values)
    statement = upsert_statement(connection.dialect.name, table, columns, key)
    if isinstance(values, list):
        insert_rows(connection, statement, table, values)
    else:
        connection.execute(statement, values)


@functools.lru_cache(maxsize=256)  # live tables, and the shadows of recent rebuilds
def upsert_statement(
    dialect_name: str,
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
) -> Any:
    """INSERT .. ON CONFLICT (key) DO UPDATE of the other columns, built once per shape."""
    statement = conflict_insert(dialect_name, table)
    updates = {name: statement.excluded[name] for name in columns if name not in key}
    upsert = statement.on_conflict_do_update(index_elements=list(key), set_=updates)
    return upsert


# Up to this many rows, an INSERT goes as one statement with many VALUES rows: one round trip
# for a live batch's few rows. A rebuild's batches of thousands of rows go as psycopg's
# executemany, one prepared statement run per row: rendering and planning statements of
# hundreds of VALUES rows made the rebuild of time_entry_rows twice as slow
# (docs/benchmarks.md, session 7).
MANY_ROWS_LIMIT = 50


def insert_rows(connection: Connection, statement: Insert, table: Table, rows: list[Any]) -> None:
    """Run the INSERT for every row: in one statement when the rows are few."""
    if len(rows) <= MANY_ROWS_LIMIT:
        statement = _returning_key(statement, table)
    connection.execute(statement, rows)


@functools.lru_cache(maxsize=256)  # one per INSERT statement built once
def _returning_key(statement: Insert, table: Table) -> Insert:
    """SQLAlchemy batches an executemany INSERT into multi-row statements only when it has
    RETURNING; without, psycopg runs one statement per row. The key returned is unused."""
    return statement.returning(*table.primary_key.columns)


def key_by(field_name: str) -> Callable[[RecordedEvent], str]:
    """Key events by a payload field when they have it, else by their aggregate."""

    def key(event: RecordedEvent) -> str:
        return str(event.data.get(field_name) or event.aggregate_id)

    return key


def conflict_insert(dialect_name: str, table: Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (PostgreSQL and SQLite alike)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table)

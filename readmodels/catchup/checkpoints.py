"""Checkpoint rows: reading and locking them, the window of events after one, advancing it.

A batch applies events and advances its projection's checkpoint in ONE read-database
transaction that holds the checkpoint row's lock, so a task delivered twice, or two workers
woken for the same projection, cannot apply an event twice.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    Update,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import OperationalError

from domain.store import event_log
from domain.store.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    Databases,
    as_utc,
    is_sqlite,
    set_sqlite_busy_timeout,
    utc_now,
)
from domain.store.event_log import RecordedEvent
from domain.store.tables import event_log as event_log_table
from readmodels.projection import Projection
from readmodels.registry import PROJECTIONS
from readmodels.tables import parked_events, projection_checkpoints

Found = TypeVar("Found")


class LockMode(Enum):
    """How a read takes the checkpoint row's lock."""

    SKIP = "skip"  # a row locked elsewhere is skipped: the reader leaves the work to the holder
    WAIT = "wait"  # wait for the row, up to the transaction's lock_timeout
    NONE = "none"  # no row lock: on SQLite, BEGIN IMMEDIATE took the database's write lock


@dataclass(frozen=True)
class CheckpointRow:
    """A checkpoint as a batch reads it, with whether any event is parked and (with one
    database) the event log's head, read in the same statement."""

    position: int
    retry_at: dt.datetime | None
    failing_position: int | None
    failing_attempts: int
    has_parked: bool
    head: int | None = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> CheckpointRow:
        return cls(
            position=row.position,
            retry_at=as_utc(row.retry_at),
            failing_position=row.failing_position,
            failing_attempts=row.failing_attempts,
            has_parked=bool(row.has_parked),
            head=getattr(row, "head", None),
        )


@dataclass(frozen=True)
class Window:
    """The events a batch covers: those after the checkpoint up to `upto`, and the head."""

    events: list[RecordedEvent]
    upto: int
    head: int

    @property
    def reaches_head(self) -> bool:
        return self.upto >= self.head


class CheckpointBusy(Exception):
    """Another worker holds this projection's checkpoint lock."""


def ensure_checkpoints(dbs: Databases) -> None:
    """Give every registered projection a checkpoint row (position 0 when new)."""
    with dbs.read.begin() as conn:
        known = set(conn.execute(select(projection_checkpoints.c.name)).scalars())
        for projection in PROJECTIONS.values():
            if projection.name not in known:
                conn.execute(
                    insert(projection_checkpoints).values(
                        name=projection.name, position=0, version=projection.version, status="ok"
                    )
                )


def head_position(dbs: Databases) -> int:
    with dbs.write_autocommit.connect() as conn:
        return event_log.head_position(conn)


def checkpoint_position(dbs: Databases, name: str) -> int:
    with dbs.read_autocommit.connect() as conn:
        return checkpoint_of(conn, name)


def concerns_range(dbs: Databases, name: str, after: int, upto: int) -> bool:
    """Whether the log holds an event this projection applies with after < position <= upto."""
    with dbs.write_autocommit.connect() as conn:
        return event_log.any_in_range(conn, after, upto, PROJECTIONS[name].event_types)


def checkpoint_of(conn: Connection, name: str) -> int:
    position: int = conn.execute(
        select(projection_checkpoints.c.position).where(projection_checkpoints.c.name == name)
    ).scalar_one()
    return position


@contextmanager
def locked_checkpoint(
    dbs: Databases,
    name: str,
    lock_timeout: float | None,
    *,
    rebuildable: bool = False,
    connection: Connection | None = None,
) -> Iterator[tuple[Connection, CheckpointRow]]:
    """Open a read transaction holding the checkpoint's lock; yield it and the row.

    With lock_timeout None, a lock held elsewhere raises CheckpointBusy at once; otherwise the
    call waits up to lock_timeout seconds for it. A `rebuildable` transaction writes nothing
    the event log cannot give again: on PostgreSQL its commit does not wait for the WAL flush
    (see _checkpoint_query). The transaction runs on `connection` when given (a caller running
    many batches keeps one), else on one from the pool.
    """

    def read(conn: Connection, lock: LockMode, asynchronous_commit: bool) -> CheckpointRow | None:
        query = _checkpoint_query(dbs.same, lock, asynchronous_commit)
        row = conn.execute(query, {"checkpoint_name": name}).one_or_none()
        return None if row is None else CheckpointRow.from_row(row)

    with _locked(dbs, name, lock_timeout, rebuildable, connection, read) as (conn, row):
        yield conn, row


@contextmanager
def locked_batch(
    dbs: Databases,
    projection: Projection,
    lock_timeout: float | None,
    connections: tuple[Connection, Connection],
    batch_size: int,
) -> Iterator[tuple[Connection, CheckpointRow, Window]]:
    """locked_checkpoint for a batch (rebuildable, on batch_connections), yielding the window
    of events after the checkpoint too.

    On PostgreSQL with one database, the locked row and the window come in one statement, a
    round trip less per batch. Its events and head come from the statement's snapshot, while
    the locked row is the latest version, which may be newer (a batch committed after the
    snapshot was taken); then the window is empty and the head is at or below the checkpoint,
    as if the batch had found nothing to do, and the caller reads the head again before it
    stops. Positions up to the snapshot's head are all settled in that snapshot, as for
    read_window.
    """
    connection, events = connections

    def read(
        conn: Connection, lock: LockMode, asynchronous_commit: bool
    ) -> tuple[CheckpointRow, Window] | None:
        if dbs.same and lock is not LockMode.NONE:
            return _read_joined(conn, projection, lock, asynchronous_commit, batch_size)
        query = _checkpoint_query(dbs.same, lock, asynchronous_commit)
        row = conn.execute(query, {"checkpoint_name": projection.name}).one_or_none()
        if row is None:
            return None
        checkpoint = CheckpointRow.from_row(row)
        window = read_window(
            events, projection, checkpoint.position, batch_size, head=checkpoint.head
        )
        return checkpoint, window

    with _locked(dbs, projection.name, lock_timeout, True, connection, read) as (conn, found):
        checkpoint, window = found
        yield conn, checkpoint, window


def _read_joined(
    conn: Connection,
    projection: Projection,
    lock: LockMode,
    asynchronous_commit: bool,
    batch_size: int,
) -> tuple[CheckpointRow, Window] | None:
    """The locked checkpoint and its window in one statement (_batch_query)."""
    query = _batch_query(projection.event_types, lock, asynchronous_commit)
    rows = conn.execute(query, {"checkpoint_name": projection.name, "batch_size": batch_size}).all()
    if not rows:
        return None
    checkpoint = CheckpointRow.from_row(rows[0])
    head = rows[0].head
    width = len(event_log.PROJECTED_COLUMNS)
    found = [
        event_log.projected_event(row[-width:]) for row in rows if row.event_position is not None
    ]
    end = min(checkpoint.position + batch_size, head)
    return checkpoint, Window(found, max(end, checkpoint.position), head)


@contextmanager
def _locked(
    dbs: Databases,
    name: str,
    lock_timeout: float | None,
    rebuildable: bool,
    connection: Connection | None,
    read: Callable[[Connection, LockMode, bool], Found | None],
) -> Iterator[tuple[Connection, Found]]:
    """The transaction and lock handling of locked_checkpoint and locked_batch; `read` takes
    the row lock as asked and returns None when it is held elsewhere."""
    with nullcontext(connection) if connection is not None else dbs.read.connect() as conn:
        sqlite = is_sqlite(dbs.read)
        if sqlite:
            set_sqlite_busy_timeout(conn, int((lock_timeout or 0) * 1000))
        try:
            with conn.begin():
                if sqlite:
                    lock = LockMode.NONE
                elif lock_timeout is None:
                    lock = LockMode.SKIP
                else:
                    lock = LockMode.WAIT
                    conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout * 1000)}"))
                found = read(conn, lock, rebuildable and not sqlite)
                if found is None:
                    raise CheckpointBusy(name)
                yield conn, found
        except OperationalError as error:
            if _is_lock_timeout(error):
                raise CheckpointBusy(name) from error
            raise
        finally:
            if sqlite:
                set_sqlite_busy_timeout(conn, SQLITE_BUSY_TIMEOUT_MS)


@functools.cache
def _checkpoint_query(with_head: bool, lock: LockMode, asynchronous_commit: bool) -> Select[Any]:
    """The checkpoint row by name, locked as asked.

    Two facts every batch needs ride on the locking read: whether any event is parked, and
    (with one database) the head of the event log. Built once per kind: it runs per batch.

    With asynchronous_commit, the read also turns off synchronous_commit for its transaction
    (set_config, so that it costs no round trip of its own). A batch's read rows and checkpoint
    commit together, so a crash can only lose the last few batches whole, and the checkpoint
    then sends the worker back to apply them again; no fsync wait holds up every batch.
    """
    name = bindparam("checkpoint_name", type_=projection_checkpoints.c.name.type)
    has_parked = (
        select(parked_events.c.position)
        .where(parked_events.c.projection == name)
        .exists()
        .label("has_parked")
    )
    checkpoint = projection_checkpoints.c
    columns: list[Any] = [
        checkpoint.position,
        checkpoint.retry_at,
        checkpoint.failing_position,
        checkpoint.failing_attempts,
        has_parked,
    ]
    if with_head:
        columns.append(event_log.HEAD_QUERY.scalar_subquery().label("head"))
    if asynchronous_commit:
        columns.append(func.set_config("synchronous_commit", "off", True).label("commit_mode"))
    query = select(*columns).where(projection_checkpoints.c.name == name)
    if lock is LockMode.NONE:
        return query
    return query.with_for_update(skip_locked=lock is LockMode.SKIP, of=projection_checkpoints)


@dataclass(frozen=True)
class GroupRow:
    """A checkpoint a group batch holds (one that may run in a group: see runs_in_group)."""

    name: str
    checkpoint: CheckpointRow
    # Some projection of the group cannot run in it (parked, failing or in retry).
    apart: bool


@contextmanager
def locked_group(
    dbs: Databases, names: frozenset[str], connection: Connection
) -> Iterator[tuple[Connection, list[GroupRow]]]:
    """locked_batch's transaction for several projections: the checkpoints of those named
    that may run in a group, locked in one statement, those locked elsewhere skipped (left to
    their holder). On SQLite, BEGIN IMMEDIATE takes the database's write lock, as for one
    projection; when another connection holds it, CheckpointBusy is raised at once."""

    def read(conn: Connection, lock: LockMode, asynchronous_commit: bool) -> list[GroupRow]:
        query = _group_query(names, dbs.same, lock, asynchronous_commit)
        return [
            GroupRow(row.name, CheckpointRow.from_row(row), bool(row.apart))
            for row in conn.execute(query)
        ]

    with _locked(dbs, "group", None, True, connection, read) as (conn, rows):
        yield conn, rows


def runs_in_group(checkpoint: Any) -> ColumnElement[bool]:
    """A checkpoint a group batch may take: nothing parked, no failure being retried. The
    others are left to the per-projection path, which isolates, retries and parks."""
    parked = (
        select(parked_events.c.position)
        .where(parked_events.c.projection == checkpoint.c.name)
        .exists()
    )
    return and_(checkpoint.c.failing_position.is_(None), checkpoint.c.retry_at.is_(None), ~parked)


@functools.lru_cache(maxsize=16)
def _group_query(
    names: frozenset[str], with_head: bool, lock: LockMode, asynchronous_commit: bool
) -> Select[Any]:
    """The checkpoints of a group that may run in it, locked as asked (rows locked elsewhere
    skipped); with the head (one database) and whether any projection of the group is apart,
    both evaluated once for the statement. Built once per group: it runs per batch."""
    checkpoint = projection_checkpoints
    others = checkpoint.alias("other")
    named = [literal(name, String) for name in sorted(names)]
    apart = (
        select(others.c.name)
        .where(others.c.name.in_(named), ~runs_in_group(others))
        .exists()
        .label("apart")
    )
    columns: list[Any] = [
        checkpoint.c.name,
        checkpoint.c.position,
        checkpoint.c.retry_at,
        checkpoint.c.failing_position,
        checkpoint.c.failing_attempts,
        false().label("has_parked"),
        apart,
    ]
    if with_head:
        columns.append(event_log.HEAD_QUERY.scalar_subquery().label("head"))
    if asynchronous_commit:
        columns.append(func.set_config("synchronous_commit", "off", True).label("commit_mode"))
    query = select(*columns).where(checkpoint.c.name.in_(named), runs_in_group(checkpoint))
    if lock is LockMode.NONE:
        return query
    return query.with_for_update(skip_locked=lock is LockMode.SKIP, of=checkpoint)


def apart_from_group(dbs: Databases, names: frozenset[str]) -> list[str]:
    """The projections of a group that the per-projection path must bring on now: behind the
    head, with an event parked or a failure whose retry is due (one whose retry is not due
    yet waits for its scheduled retry, or the sweep)."""
    head = head_position(dbs)
    checkpoint = projection_checkpoints
    parked = (
        select(parked_events.c.position)
        .where(parked_events.c.projection == checkpoint.c.name)
        .exists()
        .label("has_parked")
    )
    query = select(checkpoint.c.name, checkpoint.c.retry_at, parked).where(
        checkpoint.c.name.in_(sorted(names)),
        checkpoint.c.position < head,
        or_(checkpoint.c.failing_position.is_not(None), checkpoint.c.retry_at.is_not(None), parked),
    )
    with dbs.read_autocommit.connect() as conn:
        rows = conn.execute(query).all()
    now = utc_now()
    due = [row.name for row in rows if row.has_parked or (as_utc(row.retry_at) or now) <= now]
    return due


@functools.lru_cache(maxsize=64)
def _batch_query(
    event_types: frozenset[str], lock: LockMode, asynchronous_commit: bool
) -> Select[Any]:
    """The locked checkpoint row joined to the events of its next window (PostgreSQL, one
    database): one row per event in position order, or one row with NULL event columns. The
    event columns come last, in PROJECTED_COLUMNS' order."""
    checkpoint = _checkpoint_query(True, lock, asynchronous_commit).cte("checkpoint")
    log_table = event_log_table
    window = (
        select(*[column.label(f"event_{column.name}") for column in event_log.PROJECTED_COLUMNS])
        .where(
            log_table.c.position > checkpoint.c.position,
            log_table.c.position
            <= func.least(checkpoint.c.position + bindparam("batch_size"), checkpoint.c.head),
            event_log.of_types(event_types),
        )
        .order_by(log_table.c.position)
        .lateral("window")
    )
    return (
        select(checkpoint, window)
        .select_from(checkpoint.outerjoin(window, true()))
        .order_by(window.c.event_position)
    )


def _is_lock_timeout(error: OperationalError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate == "55P03" or "database is locked" in str(error.orig)


@contextmanager
def batch_connections(dbs: Databases) -> Iterator[tuple[Connection, Connection]]:
    """A connection for batch transactions and one to read events from, held across batches:
    a pooled checkout costs a pre-ping round trip, once per batch if taken per batch. The two
    are the same when the event log is in the read database."""
    with dbs.read.connect() as conn:
        if dbs.same:
            yield conn, conn
        else:
            with dbs.write_autocommit.connect() as events:
                yield conn, events


def read_window(
    events: Connection,
    projection: Projection,
    after: int,
    size: int,
    upto: int | None = None,
    head: int | None = None,
) -> Window:
    """The projection's events in (after, min(after + size, head)], or (after, upto], read on
    `events`; the head is read there too unless given.

    Every position at or below the head was committed or rolled back before the head's own
    transaction took the append lock, so the checkpoint may advance to the window's end,
    past events of other types and gaps, once the window is applied.
    """
    if head is None:
        head = event_log.head_position(events)
    end = min(after + size, head) if upto is None else upto
    found = event_log.read_range(events, after, end, projection.event_types) if end > after else []
    return Window(found, max(end, after), head)


def advance(
    conn: Connection,
    name: str,
    checkpoint: CheckpointRow,
    position: int,
    applied: int,
    added: dict[str, int] | None = None,
    **extra: Any,
) -> None:
    """Move the checkpoint to position; `added` are amounts to add to counter columns, and
    `extra` other columns to set."""
    values: dict[str, Any] = {"position": position, "updated_at": utc_now()} | extra
    if position > checkpoint.position:
        values["last_progress_at"] = values["updated_at"]
        if checkpoint.failing_position is not None and position >= checkpoint.failing_position:
            values |= {"failing_position": None, "failing_attempts": 0, "retry_at": None}
    added = (added or {}) | ({"events_applied": applied} if applied else {})
    statement = _advance_statement(tuple(sorted(values)), tuple(sorted(added)))
    conn.execute(
        statement,
        values
        | {f"add_{column}": amount for column, amount in added.items()}
        | {"checkpoint_name": name},
    )


def advance_group(conn: Connection, advanced: list[tuple[str, int, int]]) -> None:
    """Move the checkpoints a group batch held, as (name, position, events applied), in one
    statement (an executemany). They had no failure to clear: see runs_in_group."""
    if not advanced:
        return
    now = utc_now()
    statement = _advance_statement(
        ("last_progress_at", "position", "updated_at"), ("events_applied",)
    )
    conn.execute(
        statement,
        [
            {
                "checkpoint_name": name,
                "position": position,
                "updated_at": now,
                "last_progress_at": now,
                "add_events_applied": applied,
            }
            for name, position, applied in advanced
        ],
    )


@functools.lru_cache(maxsize=32)
def _advance_statement(columns: tuple[str, ...], counters: tuple[str, ...]) -> Update:
    """The checkpoint UPDATE for one shape of change, built once: it runs every batch."""
    checkpoint = projection_checkpoints.c
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    for column in counters:
        values[column] = checkpoint[column] + bindparam(f"add_{column}")
    return (
        update(projection_checkpoints)
        .where(checkpoint.name == bindparam("checkpoint_name"))
        .values(values)
    )

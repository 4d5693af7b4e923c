"""The projection engine: checkpointed catch-up, exactly once in effect.

Every batch applies events to the read tables and advances the projection's checkpoint in ONE
read-database transaction, holding the checkpoint row's lock: a task delivered twice, or two
workers woken for the same projection, cannot apply an event twice. A worker that finds the
row locked leaves the work to the holder. The holder stops only after a batch that found the
checkpoint at the head, and every batch takes the lock anew and reads the head under it; so an
event committed while it held the lock (whose wakeup was the one skipped) is seen.

A batch runs without savepoints. When a projector raises (anything but a lost database
connection, which the caller retries forever), the batch is rolled back and run again event
by event, each in a savepoint: the events before the failing one are kept, the failing one is
retried with capped exponential backoff, and after the last attempt it is parked with its
error, as is every later event with the same key, so per-key order holds while other keys go
on.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, text, true, update
from sqlalchemy.exc import OperationalError

from domain.store import event_log
from domain.store.db import Databases, as_utc, is_sqlite, set_sqlite_busy_timeout
from domain.store.event_log import RecordedEvent
from readmodels.metrics import BATCH_SECONDS
from readmodels.projection import Projection, TableSet
from readmodels.registry import PROJECTIONS
from readmodels.tables import parked_events, projection_checkpoints

log = logging.getLogger(__name__)

BATCH_SIZE = 500
TIME_SLICE_SECONDS = 2.0
SQLITE_DEFAULT_BUSY_MS = 30_000


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


@dataclass(frozen=True)
class CatchUpResult:
    projection: str
    position: int
    applied: int
    caught_up: bool
    busy: bool = False
    retry_at: dt.datetime | None = None
    # This call recorded the failure that set retry_at, so its caller schedules the retry;
    # a call that found the retry already scheduled leaves it alone.
    scheduled_retry: bool = False


class CheckpointBusy(Exception):
    """Another worker holds this projection's checkpoint lock."""


class ProjectorFailed(Exception):
    """A projector raised somewhere in a batch (not a lost connection)."""

    def __init__(self, last_position: int, error: Exception) -> None:
        super().__init__(f"batch up to {last_position}: {error!r}")
        self.last_position = last_position
        self.error = error


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    return conn.execute(
        select(projection_checkpoints.c.position).where(projection_checkpoints.c.name == name)
    ).scalar_one()


@contextmanager
def locked_checkpoint(
    dbs: Databases,
    name: str,
    lock_timeout: float | None,
    *,
    rebuildable: bool = False,
    connection: Connection | None = None,
) -> Iterator[tuple[Connection, Any]]:
    """Open a read transaction holding the checkpoint's lock; yield it and the row.

    With lock_timeout None, a lock held elsewhere raises CheckpointBusy at once; otherwise the
    call waits up to lock_timeout seconds for it. A `rebuildable` transaction writes nothing
    the event log cannot give again: on PostgreSQL its commit does not wait for the WAL flush
    (see _checkpoint_query). The transaction runs on `connection` when given (a caller running
    many batches keeps one), else on one from the pool.
    """

    def read(conn: Connection, lock: str, asynchronous_commit: bool) -> Any:
        query = _checkpoint_query(dbs.same, lock, asynchronous_commit)
        return conn.execute(query, {"checkpoint_name": name}).one_or_none()

    with _locked(dbs, name, lock_timeout, rebuildable, connection, read) as (conn, row):
        yield conn, row


@contextmanager
def locked_batch(
    dbs: Databases,
    projection: Projection,
    lock_timeout: float | None,
    connections: tuple[Connection, Connection],
    batch_size: int,
) -> Iterator[tuple[Connection, Any, Window]]:
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

    def read(conn: Connection, lock: str, asynchronous_commit: bool) -> Any:
        if dbs.same and lock != "none":
            query = _batch_query(projection.event_types, lock, asynchronous_commit)
            rows = conn.execute(
                query, {"checkpoint_name": projection.name, "batch_size": batch_size}
            ).all()
            if not rows:
                return None
            checkpoint = rows[0]
            width = len(event_log.PROJECTED_COLUMNS)
            found = [
                event_log.projected_event(row[-width:])
                for row in rows
                if row.event_position is not None
            ]
            end = min(checkpoint.position + batch_size, checkpoint.head)
            return checkpoint, Window(found, max(end, checkpoint.position), checkpoint.head)
        query = _checkpoint_query(dbs.same, lock, asynchronous_commit)
        checkpoint = conn.execute(query, {"checkpoint_name": projection.name}).one_or_none()
        if checkpoint is None:
            return None
        head = getattr(checkpoint, "head", None)
        return checkpoint, read_window(
            events, projection, checkpoint.position, batch_size, head=head
        )

    with _locked(dbs, projection.name, lock_timeout, True, connection, read) as (conn, found):
        checkpoint, window = found
        yield conn, checkpoint, window


@contextmanager
def _locked(
    dbs: Databases,
    name: str,
    lock_timeout: float | None,
    rebuildable: bool,
    connection: Connection | None,
    read: Callable[[Connection, str, bool], Any],
) -> Iterator[tuple[Connection, Any]]:
    """The transaction and lock handling of locked_checkpoint and locked_batch; `read` takes
    the row lock as asked ("skip", "wait" or "none") and returns None when it is held."""
    with nullcontext(connection) if connection is not None else dbs.read.connect() as conn:
        sqlite = is_sqlite(dbs.read)
        if sqlite:
            set_sqlite_busy_timeout(conn, int((lock_timeout or 0) * 1000))
        try:
            with conn.begin():
                if sqlite:
                    lock = "none"  # BEGIN IMMEDIATE took the database's write lock
                elif lock_timeout is None:
                    lock = "skip"
                else:
                    lock = "wait"
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
                set_sqlite_busy_timeout(conn, SQLITE_DEFAULT_BUSY_MS)


@functools.cache
def _checkpoint_query(with_head: bool, lock: str, asynchronous_commit: bool) -> Select[Any]:
    """The checkpoint row by name, locked as asked (skip a locked row, or wait for it).

    Two facts every batch needs ride on the locking read: whether any event is parked, and
    (with one database) the head of the event log. Built once per kind: it runs per batch.

    With asynchronous_commit, the read also turns off synchronous_commit for its transaction
    (set_config, so that it costs no round trip of its own). A batch's read rows and checkpoint
    commit together, so a crash can only lose the last few batches whole, and the checkpoint
    then sends the worker back to apply them again; no fsync wait holds up every batch.
    """
    name = bindparam("checkpoint_name")
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
    if lock == "none":
        return query
    return query.with_for_update(skip_locked=lock == "skip", of=projection_checkpoints)


@functools.lru_cache(maxsize=64)
def _batch_query(event_types: frozenset[str], lock: str, asynchronous_commit: bool) -> Select[Any]:
    """The locked checkpoint row joined to the events of its next window (PostgreSQL, one
    database): one row per event in position order, or one row with NULL event columns. The
    event columns come last, in PROJECTED_COLUMNS' order."""
    checkpoint = _checkpoint_query(True, lock, asynchronous_commit).cte("checkpoint")
    log_table = event_log.event_log
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


@dataclass(frozen=True)
class Window:
    """The events a batch covers: those after the checkpoint up to `upto`, and the head."""

    events: list[RecordedEvent]
    upto: int
    head: int

    @property
    def reaches_head(self) -> bool:
        return self.upto >= self.head


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


def parked_keys(conn: Connection, name: str) -> set[str]:
    return set(
        conn.execute(
            select(parked_events.c.event_key).where(parked_events.c.projection == name).distinct()
        ).scalars()
    )


def _park_blocked(
    conn: Connection, projection: Projection, events: list[RecordedEvent]
) -> list[RecordedEvent]:
    """Park the events whose key already has a parked event; return the others."""
    keys = parked_keys(conn, projection.name)
    runnable = []
    for event in events:
        if projection.key(event) in keys:
            park(conn, projection, event, "an earlier event with this key is parked")
        else:
            runnable.append(event)
    return runnable


def park(conn: Connection, projection: Projection, event: RecordedEvent, error: str) -> None:
    conn.execute(
        insert(parked_events).values(
            projection=projection.name,
            position=event.position,
            event_key=projection.key(event),
            event_type=event.event_type,
            error=error[:4000],
            parked_at=now(),
        )
    )


@dataclass
class BatchOutcome:
    position: int
    applied: int
    idle: bool  # the checkpoint was at the head already: there was nothing to do
    reached_head: bool = False  # applied everything up to the head it read
    retry_at: dt.datetime | None = None
    scheduled_retry: bool = False


def run_batch(
    dbs: Databases,
    projection: Projection,
    tables: TableSet,
    connections: tuple[Connection, Connection],
    *,
    policy: RetryPolicy,
    lock_timeout: float | None = None,
    batch_size: int = BATCH_SIZE,
) -> BatchOutcome:
    """Apply one batch under the checkpoint lock; isolate a failing event if one raises.

    `connections` come from batch_connections: the batch's transaction runs on the first, and
    events are read on the second."""
    started = time.perf_counter()
    try:
        with locked_batch(dbs, projection, lock_timeout, connections, batch_size) as (
            conn,
            checkpoint,
            window,
        ):
            retry_at = as_utc(checkpoint.retry_at)
            if retry_at is not None and retry_at > now():
                return BatchOutcome(checkpoint.position, 0, idle=False, retry_at=retry_at)
            if window.head <= checkpoint.position:
                return BatchOutcome(checkpoint.position, 0, idle=True)
            to_apply = (
                _park_blocked(conn, projection, window.events)
                if checkpoint.has_parked
                else window.events
            )
            try:
                projection.apply_batch(conn, tables, to_apply)
            except OperationalError:
                raise
            except Exception as error:
                raise ProjectorFailed(window.upto, error) from error
            _advance(conn, projection.name, checkpoint, window.upto, len(window.events))
        BATCH_SECONDS.labels(projection.name).observe(time.perf_counter() - started)
        return BatchOutcome(
            window.upto, len(window.events), idle=False, reached_head=window.reaches_head
        )
    except ProjectorFailed as failure:
        log.warning("projection %s failed, isolating: %s", projection.name, failure)
        return _run_isolated(dbs, projection, tables, connections, policy, lock_timeout, failure)


def _advance(
    conn: Connection,
    name: str,
    checkpoint: Any,
    position: int,
    applied: int,
    added: dict[str, int] | None = None,
    **extra: Any,
) -> None:
    """Move the checkpoint to position; `added` are amounts to add to counter columns."""
    values: dict[str, Any] = {"position": position, "updated_at": now()} | extra
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


@functools.lru_cache(maxsize=32)
def _advance_statement(columns: tuple[str, ...], counters: tuple[str, ...]) -> Any:
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


def _run_isolated(
    dbs: Databases,
    projection: Projection,
    tables: TableSet,
    connections: tuple[Connection, Connection],
    policy: RetryPolicy,
    lock_timeout: float | None,
    failure: ProjectorFailed,
) -> BatchOutcome:
    """Re-run the failed batch one event per savepoint; retry or park the one that fails."""
    connection, events = connections
    with locked_checkpoint(
        dbs, projection.name, lock_timeout, rebuildable=True, connection=connection
    ) as (conn, checkpoint):
        window = read_window(events, projection, checkpoint.position, 0, upto=failure.last_position)
        keys = parked_keys(conn, projection.name)
        position = checkpoint.position
        applied = 0
        for event in window.events:
            if projection.key(event) in keys:
                park(conn, projection, event, "an earlier event with this key is parked")
                position = event.position
                continue
            try:
                with conn.begin_nested():
                    projection.apply(conn, tables, event)
            except OperationalError:
                raise
            except Exception as error:
                return _record_failure(
                    conn, projection, checkpoint, policy, event, error, position, applied, keys
                )
            applied += 1
            position = event.position
        # Nothing failed alone: the whole window is applied.
        _advance(conn, projection.name, checkpoint, window.upto, applied)
        return BatchOutcome(window.upto, applied, idle=False)


def _record_failure(
    conn: Connection,
    projection: Projection,
    checkpoint: Any,
    policy: RetryPolicy,
    event: RecordedEvent,
    error: Exception,
    position: int,
    applied: int,
    keys: set[str],
) -> BatchOutcome:
    message = f"{event.event_type} at position {event.position}: {error!r}"
    same_event = checkpoint.failing_position == event.position
    attempts = (checkpoint.failing_attempts if same_event else 0) + 1
    common = {
        "last_error": message[:4000],
        "last_error_at": now(),
    }
    if attempts >= policy.max_attempts:
        log.error("projection %s parks %s after %d attempts", projection.name, message, attempts)
        park(conn, projection, event, message)
        keys.add(projection.key(event))
        _advance(
            conn,
            projection.name,
            checkpoint,
            event.position,
            applied,
            {"failures": 1},
            **common,
            failing_position=None,
            failing_attempts=0,
            retry_at=None,
        )
        return BatchOutcome(event.position, applied, idle=False)
    retry_at = now() + dt.timedelta(seconds=policy.delay(attempts))
    log.warning(
        "projection %s: attempt %d failed, retry at %s: %s",
        projection.name,
        attempts,
        retry_at,
        message,
    )
    _advance(
        conn,
        projection.name,
        checkpoint,
        position,
        applied,
        {"failures": 1},
        **common,
        failing_position=event.position,
        failing_attempts=attempts,
        retry_at=retry_at,
    )
    return BatchOutcome(position, applied, idle=False, retry_at=retry_at, scheduled_retry=True)


def catch_up(
    dbs: Databases,
    projection: Projection,
    *,
    policy: RetryPolicy | None = None,
    time_slice: float = TIME_SLICE_SECONDS,
    lock_timeout: float | None = None,
    batch_size: int = BATCH_SIZE,
    linger: float = 0.0,
) -> CatchUpResult:
    """Apply batches until one finds the projection at the head, or the time slice runs out.

    Ending on a batch that found nothing to do (rather than reading the head after the last
    batch) costs one locking read when the log is quiet and saves a head read per batch when
    it is busy.

    After a batch that reached the head, wait `linger` seconds before the next one. Under a
    steady stream of commands, a projection that read again at once would apply a batch of
    one or two events each time, and five projections doing so kept a two-core machine busy
    with round trips that then took longer for everyone (commands included). A few
    milliseconds' wait lets the next batch carry what arrived meanwhile: fewer, fuller
    batches, and less lag overall (docs/benchmarks.md). An event that arrives while the
    projection is idle is not delayed by it; a backlog is applied without waiting.
    """
    policy = policy or RetryPolicy()
    deadline = time.monotonic() + time_slice
    tables = projection.live_tables()
    applied = 0
    position = 0
    with batch_connections(dbs) as connections:
        while True:
            try:
                outcome = run_batch(
                    dbs,
                    projection,
                    tables,
                    connections,
                    policy=policy,
                    lock_timeout=lock_timeout,
                    batch_size=batch_size,
                )
            except CheckpointBusy:
                return CatchUpResult(projection.name, position, applied, caught_up=False, busy=True)
            position = outcome.position
            applied += outcome.applied
            if outcome.retry_at is not None:
                return CatchUpResult(
                    projection.name,
                    position,
                    applied,
                    caught_up=False,
                    retry_at=outcome.retry_at,
                    scheduled_retry=outcome.scheduled_retry,
                )
            if outcome.idle:
                return CatchUpResult(projection.name, position, applied, caught_up=True)
            left = deadline - time.monotonic()
            if left <= 0:
                return CatchUpResult(projection.name, position, applied, caught_up=False)
            if outcome.reached_head and linger:
                time.sleep(min(linger, left))


def wait_for_position(dbs: Databases, name: str, target: int, timeout: float) -> int | None:
    """Wait until the projection's checkpoint reaches target; None when it does not in time."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        position = checkpoint_position(dbs, name)
        if position >= target:
            return position
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, 0.05)

"""The projection engine: checkpointed catch-up, exactly once in effect.

Every batch applies events to the read tables and advances the projection's checkpoint in ONE
read-database transaction, holding the checkpoint row's lock: a task delivered twice, or two
workers woken for the same projection, cannot apply an event twice. A worker that finds the
row locked leaves the work to the holder; the holder re-reads the head after it releases the
lock, so an event committed while it held the lock (whose wakeup was the one skipped) is seen.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.exc import OperationalError

from domain.store import event_log
from domain.store.db import Databases, is_sqlite, set_sqlite_busy_timeout
from readmodels.projection import Projection, TableSet
from readmodels.registry import PROJECTIONS
from readmodels.tables import projection_checkpoints

BATCH_SIZE = 500
TIME_SLICE_SECONDS = 2.0


@dataclass(frozen=True)
class CatchUpResult:
    projection: str
    position: int
    applied: int
    caught_up: bool
    busy: bool = False


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
    with dbs.write.connect() as conn:
        return event_log.head_position(conn)


def checkpoint_position(dbs: Databases, name: str) -> int:
    with dbs.read.connect() as conn:
        return checkpoint_of(conn, name)


def checkpoint_of(conn: Connection, name: str) -> int:
    return conn.execute(
        select(projection_checkpoints.c.position).where(projection_checkpoints.c.name == name)
    ).scalar_one()


@contextmanager
def _locked_checkpoint(
    dbs: Databases, name: str, lock_timeout: float | None
) -> Iterator[tuple[Connection, int]]:
    """Open a read transaction holding the checkpoint's lock; yield it and the position.

    With lock_timeout None, a lock held elsewhere raises CheckpointBusy at once; otherwise the
    call waits up to lock_timeout seconds for it.
    """
    with dbs.read.connect() as conn:
        sqlite = is_sqlite(dbs.read)
        if sqlite:
            set_sqlite_busy_timeout(conn, int((lock_timeout or 0) * 1000))
        try:
            with conn.begin():
                query = select(projection_checkpoints.c.position).where(
                    projection_checkpoints.c.name == name
                )
                if not sqlite:
                    if lock_timeout is None:
                        query = query.with_for_update(skip_locked=True)
                    else:
                        conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout * 1000)}"))
                        query = query.with_for_update()
                position = conn.execute(query).scalar_one_or_none()
                if position is None:
                    raise CheckpointBusy(name)
                yield conn, position
        except OperationalError as error:
            if _is_lock_timeout(error):
                raise CheckpointBusy(name) from error
            raise
        finally:
            if sqlite:
                set_sqlite_busy_timeout(conn, 30_000)


def _is_lock_timeout(error: OperationalError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate == "55P03" or "database is locked" in str(error.orig)


def run_batch(
    dbs: Databases,
    projection: Projection,
    tables: TableSet,
    *,
    lock_timeout: float | None = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[int, int, bool]:
    """Apply one batch; returns (new position, events applied, caught up)."""
    with _locked_checkpoint(dbs, projection.name, lock_timeout) as (conn, position):
        if dbs.same:
            events, head = _read_batch(conn, projection, position, batch_size)
        else:
            with dbs.write.connect() as write_conn:
                events, head = _read_batch(write_conn, projection, position, batch_size)
        for event in events:
            projection.apply(conn, tables, event)
        caught_up = len(events) < batch_size
        new_position = (
            max(head, events[-1].position if events else 0) if caught_up else (events[-1].position)
        )
        new_position = max(new_position, position)
        now = dt.datetime.now(dt.UTC)
        values: dict[str, object] = {"position": new_position, "updated_at": now}
        if new_position > position:
            values["last_progress_at"] = now
        conn.execute(
            update(projection_checkpoints)
            .where(projection_checkpoints.c.name == projection.name)
            .values(values)
        )
        return new_position, len(events), caught_up


def _read_batch(
    conn: Connection, projection: Projection, position: int, batch_size: int
) -> tuple[list[event_log.RecordedEvent], int]:
    # The head is read before the events: every position at or below it was committed or
    # rolled back before the head's own transaction took the append lock, so once fewer than
    # batch_size events come back the checkpoint may jump to the head past other types.
    head = event_log.head_position(conn)
    events = event_log.read_types_after(conn, position, batch_size, projection.event_types)
    return events, head


def catch_up(
    dbs: Databases,
    projection: Projection,
    *,
    time_slice: float = TIME_SLICE_SECONDS,
    lock_timeout: float | None = None,
    batch_size: int = BATCH_SIZE,
) -> CatchUpResult:
    """Apply batches until the projection reaches the head or the time slice runs out."""
    deadline = time.monotonic() + time_slice
    tables = projection.live_tables()
    applied = 0
    position = 0
    while True:
        try:
            position, count, caught_up = run_batch(
                dbs, projection, tables, lock_timeout=lock_timeout, batch_size=batch_size
            )
        except CheckpointBusy:
            return CatchUpResult(projection.name, position, applied, caught_up=False, busy=True)
        applied += count
        if caught_up and head_position(dbs) <= position:
            return CatchUpResult(projection.name, position, applied, caught_up=True)
        if time.monotonic() >= deadline:
            return CatchUpResult(projection.name, position, applied, caught_up=False)


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

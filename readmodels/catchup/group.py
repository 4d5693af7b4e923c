"""Group catch-up: several projections caught up together, the event log read once a batch.

A group batch is one read-database transaction: it locks the checkpoints of the group's
projections in one statement (FOR UPDATE SKIP LOCKED: a checkpoint held elsewhere, by a
per-projection catch-up, the sync path or a rebuild's swap, is left to its holder, which
reads the head again before it stops), reads the events of all their types from the lowest
checkpoint to min(lowest + batch size, head) once, applies to each projection only its own
events after its own checkpoint, advances every checkpoint it held in one statement and
commits once. Each checkpoint is read and moved under its row lock, whichever path runs, so a
group batch and a per-projection batch may race: each event is applied once per projection.

A projection with an event parked or a failure being retried is not taken (runs_in_group):
the per-projection path (batch.py, failures.py) brings it on. When a projector raises in a
group batch, the whole batch is rolled back and each projection it held runs one
per-projection batch instead, which isolates the failing event, retries and parks it exactly
as for a projection alone. A lost connection (OperationalError) propagates.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from domain.store import event_log
from domain.store.db import Databases
from domain.store.event_log import RecordedEvent
from readmodels.catchup.batch import BATCH_SIZE, BatchRun, ProjectorFailed, run_batch
from readmodels.catchup.checkpoints import (
    CheckpointBusy,
    GroupRow,
    Window,
    advance_group,
    batch_connections,
    locked_group,
)
from readmodels.catchup.failures import RetryPolicy
from readmodels.catchup.loop import TIME_SLICE_SECONDS
from readmodels.metrics import BATCH_SECONDS
from readmodels.projection import Projection, TableSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    """A failure a per-projection fallback recorded: its retry is due at `at`."""

    projection: str
    position: int
    at: dt.datetime


@dataclass(frozen=True)
class GroupBatch:
    position: int  # the window's end, or the head when idle
    applied: int
    idle: bool  # every checkpoint held was at the head already
    reached_head: bool = False
    apart: bool = False  # some projection of the group was left to the per-projection path
    retries: tuple[Retry, ...] = ()


@dataclass(frozen=True)
class GroupResult:
    position: int
    applied: int
    caught_up: bool
    busy: bool = False  # SQLite's write lock was held elsewhere
    apart: bool = False
    retries: tuple[Retry, ...] = ()


@dataclass(frozen=True)
class GroupRun:
    """What every batch of one group catch-up shares (see BatchRun)."""

    projections: tuple[Projection, ...]
    connections: tuple[Connection, Connection]
    policy: RetryPolicy
    batch_size: int = BATCH_SIZE
    by_name: dict[str, Projection] = field(init=False)
    tables: dict[str, TableSet] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.projections})
        object.__setattr__(self, "tables", {p.name: p.live_tables() for p in self.projections})

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.by_name)


def catch_up_group(
    dbs: Databases,
    projections: Iterable[Projection],
    *,
    policy: RetryPolicy | None = None,
    time_slice: float = TIME_SLICE_SECONDS,
    batch_size: int = BATCH_SIZE,
    linger: float = 0.0,
) -> GroupResult:
    """Group batches until one finds every checkpoint it holds at the head, or the time slice
    runs out (loop.catch_up's rules, linger included)."""
    deadline = time.monotonic() + time_slice
    applied, position, apart = 0, 0, False
    retries: list[Retry] = []
    with batch_connections(dbs) as connections:
        run = GroupRun(tuple(projections), connections, policy or RetryPolicy(), batch_size)
        while True:
            try:
                batch = run_group_batch(dbs, run)
            except CheckpointBusy:
                return GroupResult(position, applied, False, True, apart, tuple(retries))
            applied, position = applied + batch.applied, batch.position
            apart = apart or batch.apart
            retries += batch.retries
            left = deadline - time.monotonic()
            if batch.idle or left <= 0:
                return GroupResult(position, applied, batch.idle, False, apart, tuple(retries))
            if batch.reached_head and linger:
                time.sleep(min(linger, left))


def run_group_batch(dbs: Databases, run: GroupRun) -> GroupBatch:
    """One group batch; when a projector raises, one per-projection batch for each projection
    the rolled-back group batch held."""
    started = time.perf_counter()
    held: list[GroupRow] = []
    try:
        with locked_group(dbs, run.names, run.connections[0]) as (conn, held):
            apart = any(row.apart for row in held)
            window = _window(run, held)
            if window.upto <= min((row.checkpoint.position for row in held), default=window.head):
                # Every checkpoint held is at the head. With none held, whether some
                # projection is apart is unknown: say so, the caller looks.
                return GroupBatch(window.head, 0, idle=True, apart=apart or not held)
            advanced = _apply(conn, run, held, window)
            advance_group(conn, advanced)
    except ProjectorFailed as failure:
        log.warning("group batch failed, each projection on its own: %s", failure)
        return _fall_back(dbs, run, [row.name for row in held])
    elapsed = time.perf_counter() - started
    for name, _, _ in advanced:
        # The group batch's whole time, as for a batch of that projection alone: how long
        # its events took to be applied and committed.
        BATCH_SECONDS.labels(name).observe(elapsed)
    applied = sum(count for _, _, count in advanced)
    return GroupBatch(
        window.upto, applied, idle=False, reached_head=window.reaches_head, apart=apart
    )


def _window(run: GroupRun, held: list[GroupRow]) -> Window:
    """The events of the held projections' types after the lowest checkpoint held, up to
    min(lowest + batch size, head), read once for all of them (read_window's reasoning)."""
    events = run.connections[1]
    head = held[0].checkpoint.head if held else None
    if head is None:
        head = event_log.head_position(events)
    if not held:
        return Window([], head, head)
    lowest = min(row.checkpoint.position for row in held)
    end = min(lowest + run.batch_size, head)
    if end <= lowest:
        return Window([], lowest, head)
    types = frozenset[str]().union(
        *(run.by_name[row.name].event_types for row in held if row.checkpoint.position < end)
    )
    return Window(event_log.read_range(events, lowest, end, types), end, head)


def _apply(
    conn: Connection, run: GroupRun, held: list[GroupRow], window: Window
) -> list[tuple[str, int, int]]:
    """Apply to each held projection behind the window's end its events after its own
    checkpoint; return (name, new position, events applied) for each."""
    advanced = []
    for row in held:
        after = row.checkpoint.position
        if after >= window.upto:
            continue
        projection = run.by_name[row.name]
        types = projection.event_types
        mine = [e for e in window.events if e.position > after and e.event_type in types]
        _apply_one(conn, run, projection, mine, window.upto)
        advanced.append((row.name, window.upto, len(mine)))
    return advanced


def _apply_one(
    conn: Connection, run: GroupRun, projection: Projection, events: list[RecordedEvent], upto: int
) -> None:
    try:
        projection.apply_batch(conn, run.tables[projection.name], events)
    except OperationalError:
        raise
    except Exception as error:
        raise ProjectorFailed(upto, error) from error


def _fall_back(dbs: Databases, run: GroupRun, names: list[str]) -> GroupBatch:
    """One per-projection batch each (a checkpoint locked meanwhile is left to its holder):
    the failing event is isolated, retried or parked there, and its projection then stays
    out of group batches until that is settled."""
    applied, retries = 0, []
    for name in names:
        batch = BatchRun(
            run.by_name[name],
            run.tables[name],
            run.connections,
            run.policy,
            None,
            run.batch_size,
        )
        try:
            outcome = run_batch(dbs, batch)
        except CheckpointBusy:
            continue
        applied += outcome.applied
        if outcome.retry_at is not None and outcome.scheduled_retry:
            retries.append(Retry(name, outcome.position, outcome.retry_at))
    return GroupBatch(0, applied, idle=False, apart=True, retries=tuple(retries))

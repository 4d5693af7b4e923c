"""Applying one batch: the events after the checkpoint, applied and the checkpoint advanced in
one transaction under the checkpoint's lock.

A batch runs without savepoints. When a projector raises (anything but a lost database
connection, which the caller retries forever), the batch is rolled back and run again event
by event, each in a savepoint: the events before the failing one are kept, and the failing
one goes to the failure policy (failures.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from domain.store.db import Databases, utc_now
from readmodels.catchup.checkpoints import (
    advance,
    locked_batch,
    locked_checkpoint,
    read_window,
)
from readmodels.catchup.failures import (
    BLOCKED,
    Failure,
    RetryPolicy,
    park,
    park_blocked,
    parked_keys,
    record_failure,
)
from readmodels.metrics import BATCH_SECONDS
from readmodels.projection import Projection, TableSet

log = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass(frozen=True)
class BatchOutcome:
    position: int
    applied: int
    idle: bool  # the checkpoint was at the head already: there was nothing to do
    reached_head: bool = False  # applied everything up to the head it read
    retry_at: dt.datetime | None = None
    # This batch recorded the failure that set retry_at, so its caller schedules the retry;
    # a batch that found the retry already scheduled leaves it alone.
    scheduled_retry: bool = False


class ProjectorFailed(Exception):
    """A projector raised somewhere in a batch (not a lost connection)."""

    def __init__(self, last_position: int, error: Exception) -> None:
        super().__init__(f"batch up to {last_position}: {error!r}")
        self.last_position = last_position
        self.error = error


@dataclass(frozen=True)
class BatchRun:
    """What every batch of one catch-up shares: the projection, the tables it writes, the
    connections from batch_connections (transactions on the first, events read on the
    second), the retry policy and the lock timeout (None: skip a locked checkpoint)."""

    projection: Projection
    tables: TableSet
    connections: tuple[Connection, Connection]
    policy: RetryPolicy
    lock_timeout: float | None = None
    batch_size: int = BATCH_SIZE


def run_batch(dbs: Databases, run: BatchRun) -> BatchOutcome:
    """Apply one batch under the checkpoint lock; isolate a failing event if one raises."""
    projection = run.projection
    started = time.perf_counter()
    try:
        with locked_batch(dbs, projection, run.lock_timeout, run.connections, run.batch_size) as (
            conn,
            checkpoint,
            window,
        ):
            if checkpoint.retry_at is not None and checkpoint.retry_at > utc_now():
                return BatchOutcome(
                    checkpoint.position, 0, idle=False, retry_at=checkpoint.retry_at
                )
            if window.head <= checkpoint.position:
                return BatchOutcome(checkpoint.position, 0, idle=True)
            to_apply = (
                park_blocked(conn, projection, window.events)
                if checkpoint.has_parked
                else window.events
            )
            try:
                projection.apply_batch(conn, run.tables, to_apply)
            except OperationalError:
                raise
            except Exception as error:
                raise ProjectorFailed(window.upto, error) from error
            advance(conn, projection.name, checkpoint, window.upto, len(window.events))
        BATCH_SECONDS.labels(projection.name).observe(time.perf_counter() - started)
        return BatchOutcome(
            window.upto, len(window.events), idle=False, reached_head=window.reaches_head
        )
    except ProjectorFailed as failure:
        log.warning("projection %s failed, isolating: %s", projection.name, failure)
        return _run_isolated(dbs, run, failure)


def _run_isolated(dbs: Databases, run: BatchRun, failed: ProjectorFailed) -> BatchOutcome:
    """Re-run the failed batch one event per savepoint; retry or park the one that fails."""
    projection = run.projection
    connection, events = run.connections
    with locked_checkpoint(
        dbs, projection.name, run.lock_timeout, rebuildable=True, connection=connection
    ) as (conn, checkpoint):
        window = read_window(events, projection, checkpoint.position, 0, upto=failed.last_position)
        keys = parked_keys(conn, projection.name)
        position = checkpoint.position
        applied = 0
        for event in window.events:
            if projection.key(event) in keys:
                park(conn, projection, event, BLOCKED)
                position = event.position
                continue
            try:
                with conn.begin_nested():
                    projection.apply(conn, run.tables, event)
            except OperationalError:
                raise
            except Exception as error:
                failure = Failure(projection, checkpoint, event, error, position, applied)
                retry_at = record_failure(conn, failure, run.policy)
                if retry_at is None:
                    return BatchOutcome(event.position, applied, idle=False)
                return BatchOutcome(
                    position, applied, idle=False, retry_at=retry_at, scheduled_retry=True
                )
            applied += 1
            position = event.position
        # Nothing failed alone: the whole window is applied.
        advance(conn, projection.name, checkpoint, window.upto, applied)
        return BatchOutcome(window.upto, applied, idle=False)

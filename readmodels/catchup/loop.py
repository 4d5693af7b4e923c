"""The catch-up loop: batches until the projection is at the head, for a time slice.

A worker that finds the checkpoint locked leaves the work to the holder. The holder stops
only after a batch that found the checkpoint at the head, and every batch takes the lock anew
and reads the head under it; so an event committed while it held the lock (whose wakeup was
the one skipped) is seen.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from domain.store.db import Databases
from readmodels.catchup.batch import BATCH_SIZE, BatchOutcome, BatchRun, run_batch
from readmodels.catchup.checkpoints import CheckpointBusy, batch_connections, checkpoint_position
from readmodels.catchup.failures import RetryPolicy
from readmodels.projection import Projection

TIME_SLICE_SECONDS = 2.0


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

    After a batch that reached the head, wait `linger` seconds before the next one, so that
    under a steady stream of commands the next batch carries what arrived meanwhile: fewer,
    fuller batches. An event that arrives while the projection is idle is not delayed by it;
    a backlog is applied without waiting.
    """
    deadline = time.monotonic() + time_slice
    applied, position = 0, 0
    with batch_connections(dbs) as connections:
        run = BatchRun(
            projection,
            projection.live_tables(),
            connections,
            policy or RetryPolicy(),
            lock_timeout,
            batch_size,
        )
        while True:
            try:
                outcome = run_batch(dbs, run)
            except CheckpointBusy:
                return CatchUpResult(projection.name, position, applied, caught_up=False, busy=True)
            applied, position = applied + outcome.applied, outcome.position
            left = deadline - time.monotonic()
            result = _result(projection.name, outcome, applied, out_of_time=left <= 0)
            if result is not None:
                return result
            if outcome.reached_head and linger:
                time.sleep(min(linger, left))


def _result(
    name: str, outcome: BatchOutcome, applied: int, out_of_time: bool
) -> CatchUpResult | None:
    """How a catch-up ends after this batch, or None to run another."""
    if outcome.retry_at is not None:
        return CatchUpResult(
            name,
            outcome.position,
            applied,
            caught_up=False,
            retry_at=outcome.retry_at,
            scheduled_retry=outcome.scheduled_retry,
        )
    if outcome.idle:
        return CatchUpResult(name, outcome.position, applied, caught_up=True)
    if out_of_time:
        return CatchUpResult(name, outcome.position, applied, caught_up=False)
    return None


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

"""Celery tasks: receive a projection name and a position, and catch up projections."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_process_init, worker_ready
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from domain.settings import Settings
from domain.store.db import as_utc, utc_now
from domain.store.idempotency import purge_expired
from readmodels.catchup import failures, loop
from readmodels.catchup.checkpoints import head_position
from readmodels.drift import periodic_verify
from readmodels.rebuild import STALE_REBUILD, RebuildInProgress, rebuild
from readmodels.registry import PROJECTIONS
from readmodels.tables import projection_checkpoints
from workers.delivery import WakeupGate
from workers.metrics_server import serve_metrics

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


def backoff(attempt: int, base: float = 0.2, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2**attempt))


@shared_task(bind=True, name="tally.catch_up", max_retries=None, acks_late=True)
def catch_up(self: Task, projection: str, position: int) -> int:
    """Bring one projection to the head of the log, holding its wakeup flag while at work
    (the protocol is in workers.delivery)."""
    app = self.app
    gate = app.delivery.gate
    quietly(gate.hold, projection)
    policy = failures.RetryPolicy(
        max_attempts=app.settings.projection_max_attempts,
        base_delay=app.settings.projection_retry_base,
    )
    deadline = time.monotonic() + loop.TIME_SLICE_SECONDS
    try:
        while True:
            result = loop.catch_up(
                app.databases,
                PROJECTIONS[projection],
                policy=policy,
                time_slice=max(0.0, deadline - time.monotonic()),
                linger=app.settings.projection_linger,
            )
            if not result.caught_up:
                break
            quietly(gate.release, projection)
            if head_position(app.databases) <= result.position:
                return result.position
            # Commands committed after the last batch, finding the flag still set: take it
            # back and go on, unless one of them set it first (and enqueued a task).
            if not take_flag(gate, projection):
                return result.position
            if time.monotonic() >= deadline:
                break
    except OperationalError as error:
        # The database is unreachable (or locked): retry forever, backing off.
        quietly(gate.release, projection)
        log.warning("database unavailable for %s, retrying: %s", projection, error)
        raise self.retry(countdown=backoff(self.request.retries), exc=error) from error
    if result.busy:
        # Another worker holds the checkpoint; it reads the head again before it stops.
        quietly(gate.release, projection)
    elif result.retry_at is not None:
        quietly(gate.release, projection)
        if result.scheduled_retry:
            # Lost (broker down, worker killed), the retry is still made by beat's sweep.
            with contextlib.suppress(Exception):
                app.delivery.enqueue(projection, position, eta=result.retry_at)
    else:
        hand_over(app, projection, result.position)
    return result.position


def quietly(action: Callable[[str], None], projection: str) -> None:
    """Flag upkeep never fails a task: a flag left set expires, one cleared costs a task."""
    try:
        action(projection)
    except Exception as error:
        log.warning("wakeup flag of %s: %s", projection, error)


def take_flag(gate: WakeupGate, projection: str) -> bool:
    """Set the flag if it is clear; when the gate is unreachable, keep working regardless."""
    try:
        return bool(gate.claim([projection]))
    except Exception as error:
        log.warning("wakeup flag of %s: %s", projection, error)
        return True


def hand_over(app: Any, projection: str, position: int) -> None:
    """The time slice is over with work left: queue the next task, which keeps the flag."""
    try:
        app.delivery.gate.hold(projection)
        app.delivery.enqueue(projection, position)
    except Exception as error:
        log.warning("could not queue the next catch-up of %s: %s", projection, error)
        quietly(app.delivery.gate.release, projection)


@shared_task(bind=True, name="tally.rebuild", acks_late=True)
def rebuild_projection(self: Task, projection: str, only_if_outdated: bool = False) -> int:
    """Rebuild one projection into shadow tables and swap them in."""
    if only_if_outdated and not needs_rebuild(self.app.databases, projection):
        return 0
    try:
        return rebuild(self.app.databases, PROJECTIONS[projection]).events
    except RebuildInProgress:
        log.info("a rebuild of %s is already running", projection)
        return 0


@shared_task(bind=True, name="tally.sweep", acks_late=True)
def sweep(self: Task) -> dict[str, list[str]]:
    """Wake every projection behind the head; rebuild those whose projector version changed."""
    databases = self.app.databases
    head = head_position(databases)
    with databases.read_autocommit.connect() as conn:
        checkpoints = {row.name: row for row in conn.execute(select(projection_checkpoints))}
    behind, outdated = [], []
    for name, projection in PROJECTIONS.items():
        checkpoint = checkpoints.get(name)
        if checkpoint is None:
            continue
        if _outdated(checkpoint, projection.version):
            outdated.append(name)
            self.app.send_task("tally.rebuild", args=(name, True), shadow=f"rebuild {name}")
        elif checkpoint.position < head:
            behind.append(name)
    if behind:
        log.info("sweep: %s behind the head (%d); woken", ", ".join(behind), head)
    self.app.delivery.wake(behind, head)
    return {"behind": behind, "rebuilding": outdated}


@shared_task(bind=True, name="tally.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys(self: Task) -> int:
    """Delete the Idempotency-Key claims past their 24 hours."""
    return purge_expired(self.app.databases.write)


@shared_task(bind=True, name="tally.verify", acks_late=True)
def verify_read_models(self: Task) -> dict[str, int]:
    """Verify every read model against the write tables and keep the drift for /metrics."""
    results = periodic_verify(self.app.databases, self.app.settings.verify_max_rows)
    return {result["projection"]: result["drift_rows"] for result in results}


def _outdated(checkpoint: Any, version: int) -> bool:
    """The projector's version changed, and no live rebuild is under way."""
    if checkpoint.version == version:
        return False
    heartbeat = as_utc(checkpoint.rebuild_heartbeat_at)
    return checkpoint.status != "rebuilding" or (
        heartbeat is None or heartbeat < utc_now() - STALE_REBUILD
    )


def needs_rebuild(databases: Any, name: str) -> bool:
    with databases.read_autocommit.connect() as conn:
        checkpoint = conn.execute(
            select(projection_checkpoints).where(projection_checkpoints.c.name == name)
        ).one()
    return _outdated(checkpoint, PROJECTIONS[name].version)


@worker_ready.connect
def serve_worker_metrics(**_: Any) -> None:
    """With TALLY_WORKER_METRICS_PORT set, the worker serves its own /metrics (batch timings),
    behind TALLY_METRICS_TOKEN when that is set."""
    port = os.environ.get("TALLY_WORKER_METRICS_PORT")
    if not port:
        return
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    serve_metrics(int(port), registry, Settings.from_env().metrics_token)


@worker_ready.connect
@worker_process_init.connect
def freeze_startup_objects(**_: Any) -> None:
    """Move everything loaded by startup out of the collector's sight (gc.freeze).

    A full collection scans every long-lived object while holding the GIL, stopping every
    projection in the process. With the ~100,000 objects Celery, SQLAlchemy and our modules
    leave after startup, full collections under load paused a worker for 70 to 100 ms; with
    them frozen (never scanned again), for 6 to 14 ms.
    """
    gc.collect()
    gc.freeze()

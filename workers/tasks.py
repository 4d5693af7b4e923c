"""Celery tasks: receive a projection name and a position, and call the engine."""

from __future__ import annotations

import contextlib
import logging
import os
import random
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from prometheus_client import CollectorRegistry, multiprocess, start_http_server
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from domain.store.db import as_utc
from readmodels import engine
from readmodels.rebuild import STALE_REBUILD, RebuildInProgress, rebuild
from readmodels.registry import PROJECTIONS
from readmodels.tables import projection_checkpoints

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


def backoff(attempt: int, base: float = 0.2, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2**attempt))


@shared_task(bind=True, name="tally.catch_up", max_retries=None, acks_late=True)
def catch_up(self: Task, projection: str, position: int) -> int:
    """Bring one projection up to (at least) position."""
    # Started: from now on a new command must queue the next catch-up itself.
    with contextlib.suppress(Exception):
        self.app.delivery.gate.release(projection)
    settings = self.app.settings
    policy = engine.RetryPolicy(
        max_attempts=settings.projection_max_attempts, base_delay=settings.projection_retry_base
    )
    try:
        result = engine.catch_up(self.app.databases, PROJECTIONS[projection], policy=policy)
    except OperationalError as error:
        # The database is unreachable (or locked): retry forever, backing off.
        log.warning("database unavailable for %s, retrying: %s", projection, error)
        raise self.retry(countdown=backoff(self.request.retries), exc=error) from error
    if result.retry_at is not None:
        self.app.delivery.enqueue(projection, position, eta=result.retry_at)
    elif not result.caught_up and not result.busy:
        self.app.delivery.wake([projection], position)
    return result.position


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
    head = engine.head_position(databases)
    with databases.read.connect() as conn:
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
    self.app.delivery.wake(behind, head)
    return {"behind": behind, "rebuilding": outdated}


def _outdated(checkpoint: Any, version: int) -> bool:
    """The projector's version changed, and no live rebuild is under way."""
    if checkpoint.version == version:
        return False
    heartbeat = as_utc(checkpoint.rebuild_heartbeat_at)
    return checkpoint.status != "rebuilding" or (
        heartbeat is None or heartbeat < engine.now() - STALE_REBUILD
    )


def needs_rebuild(databases: Any, name: str) -> bool:
    with databases.read.connect() as conn:
        checkpoint = conn.execute(
            select(projection_checkpoints).where(projection_checkpoints.c.name == name)
        ).one()
    return _outdated(checkpoint, PROJECTIONS[name].version)


@worker_ready.connect
def serve_worker_metrics(**_: Any) -> None:
    """With TALLY_WORKER_METRICS_PORT set, the worker serves its own /metrics (batch timings)."""
    port = os.environ.get("TALLY_WORKER_METRICS_PORT")
    if not port:
        return
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
        start_http_server(int(port), registry=registry)
    else:
        start_http_server(int(port))

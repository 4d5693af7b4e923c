"""Celery tasks: receive names and positions, call the work (in readmodels/ and workers/),
and retry when the database is unreachable."""

from __future__ import annotations

import gc
import logging
import os
import random
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_process_init, worker_ready
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from sqlalchemy.exc import OperationalError

from domain.settings import Settings
from domain.store.idempotency import purge_expired
from readmodels.catchup import failures
from readmodels.drift import periodic_verify
from readmodels.rebuild import RebuildInProgress, rebuild
from readmodels.registry import PROJECTIONS
from workers.delivery import GROUP_TASK, catch_up_group_turn, catch_up_turn
from workers.metrics_server import serve_metrics
from workers.sweep import needs_rebuild, survey

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


def backoff(attempt: int, base: float = 0.2, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2**attempt))


def retry_policy(settings: Settings) -> failures.RetryPolicy:
    return failures.RetryPolicy(
        max_attempts=settings.projection_max_attempts, base_delay=settings.projection_retry_base
    )


@shared_task(bind=True, name="tally.catch_up", max_retries=None, acks_late=True)
def catch_up(self: Task, projection: str, position: int) -> int:
    """Bring one projection to the head of the log (the wakeup-flag protocol is in
    workers.delivery)."""
    app = self.app
    policy = retry_policy(app.settings)
    try:
        return catch_up_turn(
            app.delivery,
            app.databases,
            PROJECTIONS[projection],
            position,
            policy,
            app.settings.projection_linger,
        )
    except OperationalError as error:
        # The database is unreachable (or locked): retry forever, backing off.
        log.warning("database unavailable for %s, retrying: %s", projection, error)
        raise self.retry(countdown=backoff(self.request.retries), exc=error) from error


@shared_task(bind=True, name=GROUP_TASK, max_retries=None, acks_late=True)
def catch_up_group(self: Task, position: int) -> int:
    """Bring every projection to the head of the log together, reading each batch's events
    once (workers.delivery: the group's flag; readmodels.catchup.group: its batches)."""
    app = self.app
    try:
        return catch_up_group_turn(
            app.delivery,
            app.databases,
            position,
            retry_policy(app.settings),
            app.settings.projection_linger,
        )
    except OperationalError as error:
        log.warning("database unavailable for the group catch-up, retrying: %s", error)
        raise self.retry(countdown=backoff(self.request.retries), exc=error) from error


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
    found = survey(self.app.databases)
    for name in found.outdated:
        self.app.send_task("tally.rebuild", args=(name, True), shadow=f"rebuild {name}")
    if found.behind:
        log.info("sweep: %s behind the head (%d); woken", ", ".join(found.behind), found.head)
    self.app.delivery.wake(found.behind, found.head)
    return {"behind": found.behind, "rebuilding": found.outdated}


@shared_task(bind=True, name="tally.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys(self: Task) -> int:
    """Delete the Idempotency-Key claims past their 24 hours."""
    return purge_expired(self.app.databases.write)


@shared_task(bind=True, name="tally.verify", acks_late=True)
def verify_read_models(self: Task) -> dict[str, int]:
    """Verify every read model against the write tables and keep the drift for /metrics."""
    results = periodic_verify(self.app.databases, self.app.settings.verify_max_rows)
    return {result["projection"]: result["drift_rows"] for result in results}


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

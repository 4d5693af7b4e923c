"""Celery tasks: receive a projection name and a position, and call the engine."""

from __future__ import annotations

import logging
import random

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from readmodels import engine
from readmodels.registry import PROJECTIONS

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


def backoff(attempt: int, base: float = 0.2, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2**attempt))


@shared_task(bind=True, name="tally.catch_up", max_retries=None, acks_late=True)
def catch_up(self: Task, projection: str, position: int) -> int:
    """Bring one projection up to (at least) position."""
    databases = self.app.databases
    try:
        result = engine.catch_up(databases, PROJECTIONS[projection])
    except OperationalError as error:
        log.warning("database unavailable for %s, retrying: %s", projection, error)
        raise self.retry(countdown=backoff(self.request.retries), exc=error) from error
    if not result.caught_up and not result.busy:
        self.app.send_task(
            "tally.catch_up",
            args=(projection, position),
            shadow=f"catch_up {projection} to {position}",
        )
    return result.position


@shared_task(bind=True, name="tally.sweep", acks_late=True)
def sweep(self: Task) -> list[str]:
    """Enqueue a catch-up for every projection behind the head of the event log."""
    databases = self.app.databases
    head = engine.head_position(databases)
    behind = [name for name in PROJECTIONS if engine.checkpoint_position(databases, name) < head]
    for name in behind:
        self.app.send_task("tally.catch_up", args=(name, head), shadow=f"catch_up {name} to {head}")
    return behind

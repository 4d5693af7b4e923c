"""GET /metrics: Prometheus text format for the API's commands and every projection."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import REGISTRY

from api.errors import Problem
from domain.errors import DomainError
from readmodels.drift import DriftCollector
from readmodels.metrics import ProjectionCollector
from workers.queue_depth import QueueDepthCollector

blp = Blueprint("metrics", __name__)

COMMANDS = Counter("tally_commands", "Commands handled.", ["command", "outcome"])
COMMAND_SECONDS = Histogram(
    "tally_command_seconds",
    "Command latency, including the sync path.",
    ["command"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


@contextmanager
def measured(command: str) -> Iterator[None]:
    """Count a command as `ok`, `rejected` (the caller's mistake: a 4xx) or `error` (a 5xx,
    which the command error-rate alert watches)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except DomainError:
        outcome = "rejected"
        raise
    except Problem as problem:
        outcome = "rejected" if problem.status < 500 else "error"
        raise
    finally:
        COMMANDS.labels(command, outcome).inc()
        COMMAND_SECONDS.labels(command).observe(time.perf_counter() - started)


@blp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    projections = CollectorRegistry()
    tally = current_app.extensions["tally"]
    projections.register(ProjectionCollector(tally.databases))
    projections.register(DriftCollector(tally.databases))
    projections.register(QueueDepthCollector(tally.celery))
    body = generate_latest(processes) + generate_latest(projections)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)

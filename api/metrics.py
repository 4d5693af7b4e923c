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

from readmodels.metrics import ProjectionCollector

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
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
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
    projections.register(ProjectionCollector(current_app.extensions["tally"].databases))
    body = generate_latest(processes) + generate_latest(projections)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)

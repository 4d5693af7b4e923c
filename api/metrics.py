"""GET /metrics: Prometheus text format for the API's commands and every projection."""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import REGISTRY

from api.errors import problem_response
from domain.settings import Settings
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


def on_metrics_port(settings: Settings) -> bool:
    """Whether this request came in on TALLY_METRICS_PORT (gunicorn sets SERVER_PORT from the
    socket it accepted on, not from the Host header)."""
    return request.environ.get("SERVER_PORT") == str(settings.metrics_port)


def guard(settings: Settings) -> Response | None:
    """With TALLY_METRICS_PORT, /metrics answers only on that port and nothing else does;
    with TALLY_METRICS_TOKEN, /metrics needs it as a bearer token."""
    if settings.metrics_port and on_metrics_port(settings) != (request.path == "/metrics"):
        return problem_response(404, "Not found.")
    if request.path != "/metrics" or not settings.metrics_token:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.metrics_token.encode()
    ):
        return None
    return problem_response(
        401,
        "/metrics needs 'Authorization: Bearer <TALLY_METRICS_TOKEN>'.",
        headers={"WWW-Authenticate": 'Bearer realm="tally-metrics"'},
    )


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

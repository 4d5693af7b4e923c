"""GET /metrics: Prometheus text format for the API's commands and every projection."""

from __future__ import annotations

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

from api.errors import Problem, problem_response
from domain.errors import DomainError
from domain.settings import Settings
from readmodels.drift import DriftCollector
from readmodels.metrics import ProjectionCollector
from workers.metrics_server import bearer_matches
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
    if bearer_matches(request.headers.get("Authorization", ""), settings.metrics_token):
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
    tally = current_app.extensions["tally"]
    projections.register(ProjectionCollector(tally.databases))
    projections.register(DriftCollector(tally.databases))
    projections.register(QueueDepthCollector(tally.celery))
    body = generate_latest(processes) + generate_latest(projections)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)

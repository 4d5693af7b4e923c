"""Prometheus metrics of the projection side.

Counters that processes increment (batch durations) live in prometheus_client's registry,
shared across processes through PROMETHEUS_MULTIPROC_DIR when it is set. Lag, checkpoints,
events applied, failures and parked counts are read from the read database at scrape time, so
every API process reports the same numbers whichever worker did the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from domain.store.db import Databases
from readmodels.status import ProjectionStatus, statuses

BATCH_SECONDS = Histogram(
    "tally_projection_batch_seconds",
    "Time to apply one catch-up batch and commit it.",
    ["projection"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class ProjectionCollector(Collector):
    def __init__(self, databases: Databases) -> None:
        self.databases = databases

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        rows = statuses(self.databases)
        head = GaugeMetricFamily("tally_event_log_head", "Position of the newest event.")
        if rows:
            head.add_metric([], rows[0].head)
        yield head
        for family, value in _per_projection():
            for row in rows:
                family.add_metric([row.name], value(row))
            yield family
        healthy = GaugeMetricFamily(
            "tally_projection_up",
            "1 when the projection is ok or catching up.",
            labels=["projection", "status"],
        )
        for row in rows:
            healthy.add_metric(
                [row.name, row.status], 1 if row.status in ("ok", "catching_up") else 0
            )
        yield healthy


def _per_projection() -> list[
    tuple[GaugeMetricFamily | CounterMetricFamily, Callable[[ProjectionStatus], float]]
]:
    """Each metric labelled by projection alone, and what it reports of a projection's status."""
    labels = ["projection"]
    return [
        (
            GaugeMetricFamily(
                "tally_projection_checkpoint", "Last position applied.", labels=labels
            ),
            lambda row: row.checkpoint,
        ),
        (
            GaugeMetricFamily(
                "tally_projection_lag_events", "Events not yet applied.", labels=labels
            ),
            lambda row: row.lag_events,
        ),
        (
            GaugeMetricFamily(
                "tally_projection_lag_seconds", "Age of the oldest unapplied event.", labels=labels
            ),
            lambda row: row.lag_seconds,
        ),
        (
            GaugeMetricFamily(
                "tally_projection_parked", "Events parked after failing.", labels=labels
            ),
            lambda row: row.parked,
        ),
        (
            CounterMetricFamily("tally_projection_events", "Events applied.", labels=labels),
            lambda row: row.events_applied,
        ),
        (
            CounterMetricFamily("tally_projection_failures", "Projector failures.", labels=labels),
            lambda row: row.failures,
        ),
    ]

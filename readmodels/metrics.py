"""Prometheus metrics of the projection side.

Counters that processes increment (batch durations) live in prometheus_client's registry,
shared across processes through PROMETHEUS_MULTIPROC_DIR when it is set. Lag, checkpoints,
events applied, failures and parked counts are read from the read database at scrape time, so
every API process reports the same numbers whichever worker did the work.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from domain.store.db import Databases
from readmodels.status import projection_status
from readmodels.tables import projection_checkpoints

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
        rows = projection_status(self.databases)
        with self.databases.read_autocommit.connect() as conn:
            counters = {
                row.name: row
                for row in conn.execute(
                    select(
                        projection_checkpoints.c.name,
                        projection_checkpoints.c.events_applied,
                        projection_checkpoints.c.failures,
                    )
                )
            }
        head = GaugeMetricFamily("tally_event_log_head", "Position of the newest event.")
        checkpoint = GaugeMetricFamily(
            "tally_projection_checkpoint", "Last position applied.", labels=["projection"]
        )
        lag_events = GaugeMetricFamily(
            "tally_projection_lag_events", "Events not yet applied.", labels=["projection"]
        )
        lag_seconds = GaugeMetricFamily(
            "tally_projection_lag_seconds",
            "Age of the oldest unapplied event.",
            labels=["projection"],
        )
        parked = GaugeMetricFamily(
            "tally_projection_parked", "Events parked after failing.", labels=["projection"]
        )
        healthy = GaugeMetricFamily(
            "tally_projection_up",
            "1 when the projection is ok or catching up.",
            labels=["projection", "status"],
        )
        applied = CounterMetricFamily(
            "tally_projection_events", "Events applied.", labels=["projection"]
        )
        failures = CounterMetricFamily(
            "tally_projection_failures", "Projector failures.", labels=["projection"]
        )
        for row in rows:
            name = row["name"]
            checkpoint.add_metric([name], row["checkpoint"])
            lag_events.add_metric([name], row["lag_events"])
            lag_seconds.add_metric([name], row["lag_seconds"])
            parked.add_metric([name], row["parked"])
            healthy.add_metric(
                [name, row["status"]], 1 if row["status"] in ("ok", "catching_up") else 0
            )
            if name in counters:
                applied.add_metric([name], counters[name].events_applied)
                failures.add_metric([name], counters[name].failures)
        if rows:
            head.add_metric([], rows[0]["head"])
        yield from (head, checkpoint, lag_events, lag_seconds, parked, healthy, applied, failures)

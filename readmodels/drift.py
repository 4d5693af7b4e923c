"""Drift as a metric: verify read models against the write tables, keep each projection's
result, and export it at scrape time.

A row counts as drift only when it differs in two passes, the second after the projection
has caught up past the head that the first pass saw: a row that differed only because its
event was still on its way is not drift.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from domain.store.db import Databases, as_utc, utc_now
from domain.store.tables import time_entries
from readmodels.audit import record_action
from readmodels.catchup.checkpoints import checkpoint_position, head_position
from readmodels.projection import upsert
from readmodels.tables import projection_verifications
from readmodels.verify import CHECKS, Drift, verify

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_SECONDS = 10.0


def confirmed_drift(
    dbs: Databases, name: str, settle_timeout: float = SETTLE_TIMEOUT_SECONDS
) -> Drift:
    """The rows that differ in two passes, the second after the projection caught up."""
    first = verify(dbs, name)
    if first.clean:
        return first
    head = head_position(dbs)
    deadline = time.monotonic() + settle_timeout
    while checkpoint_position(dbs, name) < head and time.monotonic() < deadline:
        time.sleep(0.1)
    second = verify(dbs, name)
    missing, extra = set(first.missing), set(first.extra)
    return Drift(
        name,
        missing=[key for key in second.missing if key in missing],
        extra=[key for key in second.extra if key in extra],
        differing={key: v for key, v in second.differing.items() if key in first.differing},
    )


def drift_rows(drift: Drift) -> int:
    return len(drift.missing) + len(drift.extra) + len(drift.differing)


def verify_and_record(
    dbs: Databases, names: list[str] | None = None, actor: str | None = None
) -> list[dict[str, Any]]:
    """Verify each projection (all by default), keep the results for /metrics, and record
    the action when an operator asked for it."""
    results = []
    for name in names or list(CHECKS):
        started = time.monotonic()
        drift = confirmed_drift(dbs, name)
        result = {
            "projection": name,
            "drift_rows": drift_rows(drift),
            "missing": len(drift.missing),
            "extra": len(drift.extra),
            "differing": len(drift.differing),
            "verified_at": utc_now(),
            "seconds": round(time.monotonic() - started, 3),
        }
        with dbs.read.begin() as conn:
            upsert(
                conn,
                projection_verifications,
                {
                    key: result[key]
                    for key in ("projection", "drift_rows", "verified_at", "seconds")
                },
                ("projection",),
            )
            if actor is not None:
                detail = {
                    key: result[key] for key in ("drift_rows", "missing", "extra", "differing")
                }
                record_action(conn, name, "verify", actor, detail)
        if drift.clean:
            log.info("verify %s: no drift", name)
        else:
            log.warning("verify %s found drift:\n%s", name, drift.report())
        results.append(result)
    return results


def firm_size(dbs: Databases) -> int:
    """Time entries, the table that grows with a firm and that every check recomputes."""
    with dbs.write_autocommit.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(time_entries)).scalar_one())


def periodic_verify(dbs: Databases, max_rows: int) -> list[dict[str, Any]]:
    """Beat's verify: every projection, unless the firm has outgrown max_rows time entries
    (a full recompute would load the database; `tally projections verify` still runs)."""
    size = firm_size(dbs)
    if size > max_rows:
        log.info("periodic verify skipped: %d time entries, more than %d", size, max_rows)
        return []
    return verify_and_record(dbs)


class DriftCollector(Collector):
    """tally_projection_drift_rows and the time of the last verify, per projection."""

    def __init__(self, databases: Databases) -> None:
        self.databases = databases

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.databases.read_autocommit.connect() as conn:
            rows = conn.execute(select(projection_verifications)).all()
        drift = GaugeMetricFamily(
            "tally_projection_drift_rows",
            "Rows that differed from the write tables at the last verify.",
            labels=["projection"],
        )
        verified = GaugeMetricFamily(
            "tally_projection_last_verify_timestamp_seconds",
            "When the projection was last verified (Unix time).",
            labels=["projection"],
        )
        for row in rows:
            drift.add_metric([row.projection], row.drift_rows)
            verified_at = as_utc(row.verified_at)
            if verified_at is not None:
                verified.add_metric([row.projection], verified_at.timestamp())
        yield from (drift, verified)

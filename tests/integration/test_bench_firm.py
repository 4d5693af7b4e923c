"""The bench's firm loader: its event log and write tables, bulk-loaded from one history,
verify clean once the projections are rebuilt from the log (at a tiny scale); opened again,
the firm is reused, with a fresh admin token each time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from api.auth import find_caller
from bench import firm, world
from domain.settings import Settings
from domain.store import tables
from domain.store.db import Databases
from readmodels.tables import time_entry_rows
from tests.support.services import own_database, require_postgres, require_redis


def test_the_tiny_firm_loads_rebuilds_and_verifies_clean(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "TALLY_DATABASE_URL": own_database(require_postgres(), "bench_firm"),
            "TALLY_BROKER_URL": require_redis(),
            "TALLY_HOME_DIR": str(tmp_path),
        }
    )
    scale = firm.SCALES["tiny"]
    firm.fresh_databases(settings).dispose()
    built = firm.open_firm(settings, scale, jobs=2)
    databases, summary = built.databases, built.summary
    try:
        assert built.built_now
        assert summary["verify"]["clean"]
        assert summary["deleted_entries"] > 0
        assert summary["entries"] + summary["deleted_entries"] == scale.entries
        with databases.write.connect() as conn:
            # Opening the firm moved its open projects' end dates past the bench's writes.
            open_ends = set(
                conn.execute(
                    select(tables.projects.c.end_date).where(tables.projects.c.status == "open")
                ).scalars()
            )
            extended = conn.execute(
                select(func.count())
                .select_from(tables.event_log)
                .where(tables.event_log.c.position > summary["events"])
            ).scalar()
            assert (
                conn.execute(select(func.count()).select_from(tables.event_log)).scalar()
                == summary["events"] + extended
            )
            types = set(conn.execute(select(tables.event_log.c.event_type).distinct()).scalars())
            rows = conn.execute(select(func.count()).select_from(time_entry_rows)).scalar()
        assert rows == summary["entries"]
        assert {
            "TimeEntryApproved",
            "TimeEntryRejected",
            "TimeEntryAmended",
            "TimeEntryDeleted",
            "ClientRenamed",
            "ProjectUpdated",
            "PersonUpdated",
            "ProjectClosed",
        } <= types
        assert open_ends == {world.BENCH_WRITES_FROM + dt.timedelta(days=world.BENCH_WRITE_DAYS)}
        assert extended > 0
        assert firm.cached(databases.write, scale) == summary
        assert _role_of(databases, built.token) == "admin"
    finally:
        databases.dispose()
    reopened = firm.open_firm(settings, scale, jobs=2)
    try:
        assert not reopened.built_now and reopened.summary == summary
        assert _role_of(reopened.databases, reopened.token) == "admin"
        assert _role_of(reopened.databases, built.token) is None
    finally:
        reopened.databases.dispose()


def _role_of(databases: Databases, token: str) -> str | None:
    caller = find_caller(databases.write, token)
    return None if caller is None else caller.role

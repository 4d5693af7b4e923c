"""The databases and organisation the in-process benchmarks run against."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from domain.settings import Settings
from domain.store.db import Databases, create_database_if_missing, is_sqlite
from migrations import upgrade
from readmodels.catchup.checkpoints import ensure_checkpoints

# The bench's own commands log time from here on, after the firm's two years: the firm's
# reports and project sizes stay as built however many runs it has served.
BENCH_WRITES_FROM = dt.date(2027, 3, 1)
BENCH_WRITE_DAYS = 3 * 365
# The firm's history runs into 2027 and the bench's commands after it: entries that far
# ahead of today must be accepted (TALLY_MAX_FUTURE_DAYS) by every bench process.
BENCH_MAX_FUTURE_DAYS = 10 * 365


@dataclass
class World:
    settings: Settings
    databases: Databases
    projects: list[uuid.UUID]
    team: list[tuple[uuid.UUID, uuid.UUID]]  # (project, member) pairs that may log time


def fresh_databases(settings: Settings) -> Databases:
    for url in {settings.database_url, settings.read_database_url}:
        create_database_if_missing(url)
    databases = Databases(settings.database_url, settings.read_database_url)
    if not is_sqlite(databases.write):
        with databases.write.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(databases.write, "write")
    upgrade(databases.read, "read")
    ensure_checkpoints(databases)
    return databases


def random_day(rng: random.Random) -> dt.date:
    """A day for one of the bench's own commands (never inside the firm's history)."""
    return BENCH_WRITES_FROM + dt.timedelta(days=rng.randrange(BENCH_WRITE_DAYS))

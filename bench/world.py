"""The databases and organisation the benchmarks run against."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass

from sqlalchemy import select, text

from api.demo import create_demo_data
from domain.settings import Settings
from domain.store import tables
from domain.store.db import Databases, create_database_if_missing, is_sqlite
from migrations import upgrade
from readmodels import engine
from readmodels.engine import ensure_checkpoints
from readmodels.registry import PROJECTIONS


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


def build(settings: Settings, projects: int, entries: int) -> World:
    """A consulting firm through the real command handlers, projected and analysed."""
    databases = fresh_databases(settings)
    create_demo_data(databases, projects=projects, entries=entries, seed=3)
    for projection in PROJECTIONS.values():
        engine.catch_up(databases, projection, time_slice=600)
    if not is_sqlite(databases.write):
        with databases.write.begin() as conn:
            conn.execute(text("ANALYZE"))
    with databases.write.connect() as conn:
        project_ids = list(conn.execute(select(tables.projects.c.id)).scalars())
        team = [
            (row.project_id, row.person_id) for row in conn.execute(select(tables.project_members))
        ]
    return World(settings, databases, project_ids, team)


def random_day(rng: random.Random) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 900))

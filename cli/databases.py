"""The databases a command of the `tally` command line works on, and their migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from domain.settings import Settings
from domain.store import tables
from domain.store.db import Databases


@contextmanager
def open_databases(settings: Settings) -> Iterator[Databases]:
    """The write and read databases, their connections closed when the block ends."""
    databases = Databases(settings.database_url, settings.read_database_url)
    try:
        yield databases
    finally:
        databases.dispose()


def db_upgrade(settings: Settings) -> None:
    """Apply migrations to the write and read databases and register the projections."""
    from migrations import upgrade
    from readmodels.catchup.checkpoints import ensure_checkpoints

    settings.ensure_home()
    with open_databases(settings) as databases:
        upgrade(databases.write, "write")
        upgrade(databases.read, "read")
        ensure_checkpoints(databases)
        if settings.runtime_role:
            from migrations.roles import grant_runtime_role

            grant_runtime_role(databases, settings.runtime_role)


def has_no_projects(settings: Settings) -> bool:
    with open_databases(settings) as databases, databases.write.connect() as conn:
        return conn.execute(select(tables.projects.c.id).limit(1)).first() is None

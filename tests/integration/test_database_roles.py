"""deploy/postgres/roles.sql and `tally db upgrade` with TALLY_RUNTIME_ROLE on the real
PostgreSQL: the runtime role runs commands, projections and a rebuild, and no DDL on the
write side."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from cli.databases import db_upgrade
from domain import commands, handlers
from domain.settings import Settings
from domain.store.db import Databases
from domain.store.unit_of_work import SqlUnitOfWork
from readmodels.catchup.loop import catch_up
from readmodels.rebuild import rebuild
from readmodels.registry import PROJECTIONS
from tests.support.services import on_ci, own_database, require_postgres
from tests.support.stack import ROOT

ROLES_SQL = ROOT / "deploy" / "postgres" / "roles.sql"


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def _superuser(url: str, database: str = "postgres"):  # type: ignore[no-untyped-def]
    return create_engine(
        make_url(url).set(database=database), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )


@pytest.fixture
def roles() -> Iterator[tuple[str, str, str]]:
    """A scratch database set up by roles.sql: (its URL, migration role, runtime role)."""
    psql = shutil.which("psql")
    if psql is None:
        if on_ci():
            pytest.fail("psql is missing (CI installs it with PostgreSQL)")
        pytest.skip("no psql on this machine")
    url = own_database(require_postgres(), "roles")
    suffix = uuid.uuid4().hex[:8]
    migrate_role, app_role = f"tally_migrate_{suffix}", f"tally_app_{suffix}"
    target = make_url(url)
    result = subprocess.run(
        [
            psql,
            "--no-psqlrc",
            "-h",
            target.host or "127.0.0.1",
            "-p",
            str(target.port or 5432),
            "-U",
            target.username or "postgres",
            "-d",
            target.database or "",
            "-v",
            f"migrate_role={migrate_role}",
            "-v",
            f"app_role={app_role}",
            "-v",
            f"database={target.database}",
            "-f",
            str(ROLES_SQL),
        ],
        env=os.environ | {"TALLY_MIGRATE_PASSWORD": "m-secret", "TALLY_APP_PASSWORD": "a-secret"},
        capture_output=True,
        text=True,
    )
    try:
        assert result.returncode == 0, result.stderr
        yield url, migrate_role, app_role
    finally:
        server = _superuser(url)
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            for role in (migrate_role, app_role):
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        server.dispose()


def test_the_runtime_role_has_dml_and_rebuild_rights_and_no_write_side_ddl(
    roles: tuple[str, str, str],
) -> None:
    url, migrate_role, app_role = roles
    migrate_url = _as(url, migrate_role)
    db_upgrade(
        Settings.from_env({"TALLY_DATABASE_URL": migrate_url, "TALLY_RUNTIME_ROLE": app_role})
    )

    app = Databases(_as(url, app_role))
    try:
        with app.write.connect() as conn:
            who = conn.execute(
                text("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user")
            ).one()
        assert tuple(who) == (app_role, False)
        client = handlers.handle(commands.RegisterClient(name="Acme"), SqlUnitOfWork(app.write))
        handlers.handle(
            commands.RenameClient(client_id=client.id, name="Acme Group"),
            SqlUnitOfWork(app.write),
        )
        for projection in PROJECTIONS.values():
            assert catch_up(app, projection).caught_up
        assert rebuild(app, PROJECTIONS["project_dashboards"]).position >= 2
        with app.write.begin() as conn:
            conn.execute(text("DELETE FROM idempotency_keys"))
            assert conn.execute(text("SELECT count(*) FROM event_log")).scalar_one() == 2
        for statement in (
            "ALTER TABLE people ADD COLUMN nickname text",
            "DROP TABLE event_log",
            "TRUNCATE event_log",
            "CREATE INDEX ix_sneaky ON people (first_name)",
            "ALTER TABLE api_tokens OWNER TO CURRENT_USER",
            "SELECT * FROM alembic_version_write",
            "CREATE ROLE intruder",
        ):
            with app.write.connect() as conn, pytest.raises(ProgrammingError) as refused:
                conn.execute(text(statement))
            assert "permission denied" in str(refused.value) or "must be owner" in str(
                refused.value
            ), statement
    finally:
        app.dispose()

    # The migration role can still migrate (and alter) the rebuilt read tables.
    db_upgrade(
        Settings.from_env({"TALLY_DATABASE_URL": migrate_url, "TALLY_RUNTIME_ROLE": app_role})
    )
    migrate = create_engine(migrate_url, poolclass=NullPool)
    with migrate.begin() as conn:
        conn.execute(text("ALTER TABLE project_dashboards ADD COLUMN probe integer"))
        conn.execute(text("ALTER TABLE project_dashboards DROP COLUMN probe"))
    migrate.dispose()

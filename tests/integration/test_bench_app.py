"""The bench's baselines keep working as the product changes: its live-join reads and its
event-less LogTime answer like the routes they are compared with (the full bench runs for
minutes and is no part of this suite)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, Table, func, select

from bench import app as bench_app
from domain.store import tables
from readmodels.catchup.loop import catch_up
from readmodels.registry import PROJECTIONS
from tests.conftest import make_app
from tests.support.api import create_client, create_person, create_project
from tests.support.stack import Stack

BENCH = "/api/v1/bench"


@pytest.fixture
def client(pg_stack: Stack) -> Iterator[FlaskClient]:
    """Tally's app with the bench's routes, as `bench.app.create_app` builds it."""
    app = make_app(pg_stack)
    app.register_blueprint(bench_app.blp, url_prefix=BENCH)
    yield app.test_client()
    app.extensions["tally"].databases.dispose()


def test_the_live_joins_answer_what_the_read_models_answer(
    client: FlaskClient, pg_stack: Stack, admin: dict[str, str]
) -> None:
    project = _project(client, admin)
    logged = client.post("/api/v1/time-entries", json=_two_hours(project), headers=admin)
    assert logged.status_code == 201, logged.get_json()
    for projection in PROJECTIONS.values():
        catch_up(pg_stack.databases, projection)
    for path in (
        f"/projects/{project['id']}/dashboard",
        f"/time-entries?project_id={project['id']}",
        "/reports/utilization?from=2026-11-02&to=2026-11-08",
        "/reports/revenue?from=2026-11-01&to=2026-11-30",
        f"/reports/budget-burn?project_id={project['id']}",
    ):
        model = client.get(f"/api/v1{path}", headers=admin)
        live = client.get(f"{BENCH}/live{path}", headers=admin)
        assert live.status_code == model.status_code == 200, (path, live.get_json())
        assert _unprojected(live.get_json()) == _unprojected(model.get_json()), path


def test_the_crud_baseline_logs_time_and_appends_no_event(
    client: FlaskClient, pg_stack: Stack, admin: dict[str, str]
) -> None:
    project = _project(client, admin)
    with pg_stack.databases.write.connect() as conn:
        events_before = _count(conn, tables.event_log)
    logged = client.post(f"{BENCH}/crud/time-entries", json=_two_hours(project), headers=admin)
    assert logged.status_code == 201, logged.get_json()
    with pg_stack.databases.write.connect() as conn:
        assert _count(conn, tables.event_log) == events_before
        assert _count(conn, tables.time_entries) == 1


def _project(client: FlaskClient, admin: dict[str, str]) -> dict[str, Any]:
    manager = create_person(client, admin, "mia@example.com", role="manager")
    project = create_project(client, admin, create_client(client, admin), manager["id"])
    return project | {"manager_id": manager["id"]}


def _two_hours(project: dict[str, Any]) -> dict[str, Any]:
    """Two billable hours logged by the project's manager."""
    return {
        "project_id": project["id"],
        "person_id": project["manager_id"],
        "date": "2026-11-03",
        "hours": 2,
        "billable": True,
    }


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _unprojected(body: Any) -> Any:
    """The body without `updated_at`: a live join has no time a row was last projected."""
    if isinstance(body, dict):
        return {k: _unprojected(v) for k, v in body.items() if k != "updated_at"}
    if isinstance(body, list):
        return [_unprojected(item) for item in body]
    return body

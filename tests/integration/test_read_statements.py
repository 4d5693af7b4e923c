"""What a read costs: a dashboard GET with its caller's token cached runs one statement on
one pooled connection, its rows and its projection's checkpoint together, and every read
model query answers the checkpoint its rows were read at; one that finds no rows reads the
checkpoint, then the rows again (the position is then one the answer reflects at least)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from readmodels.tables import projection_checkpoints
from tests.conftest import make_app
from tests.support.api import create_client, create_person, create_project
from tests.support.scenario import Scenario
from tests.support.stack import Stack
from tests.support.statements import checkouts_of, statements_of


@pytest.fixture
def cached_app(stack: Stack) -> Iterator[Flask]:
    app = make_app(stack, token_cache_seconds=60.0)
    yield app
    app.extensions["tally"].databases.dispose()


def checkpoints(stack: Stack) -> dict[str, int]:
    with stack.databases.read.connect() as conn:
        rows = conn.execute(
            select(projection_checkpoints.c.name, projection_checkpoints.c.position)
        )
        return {name: position for name, position in rows}


def test_a_dashboard_get_is_one_statement_on_one_connection(
    cached_app: Flask, admin: dict[str, str], stack: Stack
) -> None:
    client = cached_app.test_client()
    project = create_project(
        client, admin, create_client(client, admin), create_person(client, admin, "m@x.io")["id"]
    )
    Scenario(stack.databases).catch_up()
    path = f"/api/v1/projects/{project['id']}/dashboard"
    assert client.get(path, headers=admin).status_code == 200  # the token is cached from here

    with checkouts_of(cached_app) as checkouts, statements_of(cached_app) as seen:
        response = client.get(path, headers=admin)
    assert response.status_code == 200
    assert len(seen) == 1 and "projection_checkpoints" in seen[0], seen
    assert len(checkouts) == 1
    position = checkpoints(stack)["project_dashboards"]
    assert position > 0 and int(response.headers["X-Projection-Position"]) == position

    missing = client.get(
        "/api/v1/projects/00000000-0000-0000-0000-000000000000/dashboard", headers=admin
    )
    assert missing.status_code == 404


NOBODY = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("path", "projection", "statements"),
    [
        ("/projects", "project_dashboards", 1),
        (f"/projects?client_id={NOBODY}", "project_dashboards", 3),
        ("/time-entries", "time_entry_rows", 1),
        (f"/time-entries?person_id={NOBODY}", "time_entry_rows", 3),
        ("/timesheets", "timesheets", 1),
        ("/reports/utilization?from=2026-11-01&to=2026-11-30", "utilization", 1),
        ("/reports/revenue?from=2026-11-01&to=2026-11-30", "client_revenue", 1),
        ("/reports/profitability?from=2026-11-01&to=2026-11-30", "project_profitability", 1),
        ("/settings/lock-date", "lock_date", 3),
        ("/clients", "directory", 1),
        (f"/clients/{NOBODY}", "directory", 3),
    ],
)
def test_a_read_answers_its_checkpoint_with_rows_or_none(
    cached_app: Flask,
    admin: dict[str, str],
    stack: Stack,
    path: str,
    projection: str,
    statements: int,
) -> None:
    client = cached_app.test_client()
    _logged_week(client, admin)
    Scenario(stack.databases).catch_up()
    assert client.get("/api/v1/clients", headers=admin).status_code == 200
    with statements_of(cached_app) as seen:
        response = client.get(f"/api/v1{path}", headers=admin)
    assert response.status_code in (200, 404), response.get_json()
    assert len(seen) == statements, seen
    if response.status_code == 200:
        position = int(response.headers["X-Projection-Position"])
        assert position == checkpoints(stack)[projection] > 0


def _logged_week(client: FlaskClient, admin: dict[str, str]) -> None:
    manager = create_person(client, admin, "m@x.io")
    project = create_project(client, admin, create_client(client, admin), manager["id"])
    entry = {
        "project_id": project["id"],
        "person_id": manager["id"],
        "date": "2026-11-03",
        "hours": 2,
        "billable": True,
    }
    logged = client.post("/api/v1/time-entries", json=entry, headers=admin)
    assert logged.status_code in (201, 202), logged.get_json()

"""The HTTP contract of the foundation slice: statuses and problem+json shapes."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from domain.store.tables import event_log
from tests.conftest import ADMIN_TOKEN, make_app
from tests.support.api import create_client, create_person, create_project, post
from tests.support.stack import Stack


def event_count(stack: Stack) -> int:
    with stack.databases.write.connect() as conn:
        return conn.execute(select(func.count()).select_from(event_log)).scalar_one()


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_creating_a_project_returns_201_and_the_dashboard_reads_back_at_once(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    client_id = create_client(client, admin, "Acme")
    manager = create_person(client, admin, "ann@example.com", first="Ann", last="Lee")
    response = client.post(
        "/api/v1/projects",
        json={
            "name": "Website",
            "client_id": client_id,
            "manager_id": manager["id"],
            "start_date": "2026-11-02",
            "budget": "10000.00",
            "default_bill_rate": "120.5",
        },
        headers=admin,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "version", "position"}
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/api/v1/projects/{body['id']}/dashboard"

    dashboard = client.get(response.headers["Location"], headers=admin)
    assert dashboard.status_code == 200
    assert int(dashboard.headers["X-Projection-Position"]) >= body["position"]
    row = dashboard.get_json()
    assert row["client_name"] == "Acme"
    assert row["manager_name"] == "Ann Lee"
    assert row["budget"] == "10000.00"
    assert row["budget_remaining"] == "10000.00"
    assert row["total_billed"] == "0.00"
    assert row["budget_used_pct"] == 0.0
    assert row["status"] == "open"
    assert row["team_members"] == []


def test_command_positions_increase_and_people_get_a_token_once(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    first = post(client, "/clients", {"name": "A"}, admin)
    second = post(client, "/clients", {"name": "B"}, admin)
    assert second["position"] > first["position"]
    person = create_person(client, admin, "bo@example.com", role="member")
    assert person["token"].startswith("tly_")
    own = client.get(
        f"/api/v1/projects/{uuid.uuid4()}/dashboard",
        headers={"Authorization": f"Bearer {person['token']}"},
    )
    assert_problem(own, 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": "Acme", "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_client_is_422_with_field_errors_and_changes_nothing(
    client: FlaskClient, admin: dict[str, str], stack: Stack, body: dict, field: str
) -> None:
    before = event_count(stack)
    problem = assert_problem(client.post("/api/v1/clients", json=body, headers=admin), 422)
    assert field in problem["errors"]
    assert event_count(stack) == before


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"budget": "-1.00"}, "budget", 422),
        ({"budget": "10.001"}, "budget", 422),
        ({"budget": True}, "budget", 422),
        ({"budget": 10}, "budget", 422),
        ({"start_date": "2026-13-01"}, "start_date", 422),
        ({"client_id": "not-a-uuid"}, "client_id", 422),
        # Valid by the document, refused by the state or a rule across fields:
        ({"end_date": "2026-01-01"}, "end_date", 409),
        ({"client_id": str(uuid.uuid4())}, "client_id", 404),
        ({"manager_id": str(uuid.uuid4())}, "manager_id", 404),
    ],
)
def test_an_invalid_project_is_refused_and_changes_nothing(
    client: FlaskClient,
    admin: dict[str, str],
    stack: Stack,
    change: dict,
    field: str,
    status: int,
) -> None:
    client_id = create_client(client, admin)
    manager_id = create_person(client, admin, "ann@example.com")["id"]
    body = {
        "name": "Web",
        "client_id": client_id,
        "manager_id": manager_id,
        "start_date": "2026-02-01",
        "budget": "100.00",
    } | change
    before = event_count(stack)
    problem = assert_problem(client.post("/api/v1/projects", json=body, headers=admin), status)
    assert field in problem["errors"]
    assert event_count(stack) == before


def test_a_duplicate_email_is_409(client: FlaskClient, admin: dict[str, str]) -> None:
    create_person(client, admin, "ann@example.com")
    response = client.post(
        "/api/v1/people",
        json={"first_name": "A", "last_name": "B", "email": "ANN@example.com", "role": "member"},
        headers=admin,
    )
    assert_problem(response, 409)


def test_authentication_and_roles(client: FlaskClient, admin: dict[str, str]) -> None:
    assert_problem(client.post("/api/v1/clients", json={"name": "A"}), 401)
    bad = {"Authorization": "Bearer nope"}
    assert_problem(client.post("/api/v1/clients", json={"name": "A"}, headers=bad), 401)
    member = create_person(client, admin, "m@example.com", role="member")
    as_member = {"Authorization": f"Bearer {member['token']}"}
    assert_problem(client.post("/api/v1/clients", json={"name": "A"}, headers=as_member), 403)
    manager = create_person(client, admin, "g@example.com", role="manager")
    as_manager = {"Authorization": f"Bearer {manager['token']}"}
    assert client.post("/api/v1/clients", json={"name": "A"}, headers=as_manager).status_code == 201
    person = {"first_name": "A", "last_name": "B", "email": "x@example.com", "role": "member"}
    assert_problem(client.post("/api/v1/people", json=person, headers=as_manager), 403)


def test_malformed_bodies_and_unknown_routes(client: FlaskClient, admin: dict[str, str]) -> None:
    assert_problem(
        client.post("/api/v1/clients", data="{", content_type="application/json", headers=admin),
        400,
    )
    assert_problem(
        client.post("/api/v1/clients", data="name=A", content_type="text/plain", headers=admin), 415
    )
    assert_problem(
        client.post(
            "/api/v1/clients",
            data="[" + "1," * 600_000 + "1]",
            content_type="application/json",
            headers=admin,
        ),
        413,
    )
    assert_problem(client.get("/api/v1/nothing-here", headers=admin), 404)
    assert_problem(client.get("/nothing-here"), 404)
    assert_problem(client.get("/api/v1/projects/not-a-uuid/dashboard", headers=admin), 404)
    not_allowed = assert_problem(client.delete("/api/v1/clients", headers=admin), 405)
    assert not_allowed
    assert "POST" in client.delete("/api/v1/clients", headers=admin).headers["Allow"]


def test_if_match_with_a_stale_version_is_412(client: FlaskClient, admin: dict[str, str]) -> None:
    client_id = create_client(client, admin)
    renamed = client.patch(
        f"/api/v1/clients/{client_id}", json={"name": "B"}, headers=admin | {"If-Match": '"1"'}
    )
    assert renamed.status_code == 200
    assert renamed.headers["ETag"] == '"2"'
    stale = client.patch(
        f"/api/v1/clients/{client_id}", json={"name": "C"}, headers=admin | {"If-Match": '"1"'}
    )
    assert_problem(stale, 412)
    assert_problem(
        client.patch(f"/api/v1/clients/{uuid.uuid4()}", json={"name": "C"}, headers=admin), 404
    )


def test_min_position_not_reached_is_503_after_the_timeout_and_beyond_the_head_409(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    client_id = create_client(client, admin)
    manager_id = create_person(client, admin, "ann@example.com")["id"]
    project = create_project(client, admin, client_id, manager_id)
    path = f"/api/v1/projects/{project['id']}/dashboard"
    ok = client.get(f"{path}?min_position={project['position']}", headers=admin)
    assert ok.status_code == 200
    app = client.application
    app.extensions["tally"].settings = app.extensions["tally"].settings.with_changes(
        min_position_timeout=0.3
    )
    # No worker runs here: the revenue read model stays behind the project's creation.
    behind = client.get(
        f"/api/v1/reports/revenue?from=2026-01-01&to=2026-12-31&min_position={project['position']}",
        headers=admin,
    )
    problem = assert_problem(behind, 503)
    assert str(project["position"]) in problem["detail"]
    assert behind.headers["Retry-After"] == "1"
    beyond = assert_problem(client.get(f"{path}?min_position=999999", headers=admin), 409)
    assert "999999" in beyond["detail"] and "min_position" in beyond["errors"]
    assert_problem(client.get(f"{path}?min_position=-1", headers=admin), 422)
    assert beyond["head"] == project["position"]


def test_openapi_document_and_docs_page_are_served(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/clients",
        "/api/v1/people",
        "/api/v1/projects",
        "/api/v1/projects/{project_id}/dashboard",
    ):
        assert path in spec["paths"]
    assert "RegisterClient" in spec["components"]["schemas"]
    page = client.get("/docs")
    assert page.status_code == 200
    assert b"/api/v1/projects" in page.data
    assert b"http://" not in page.data and b"https://" not in page.data
    for asset in (
        "/docs/init.js",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ):
        with client.get(asset) as served:
            assert served.status_code == 200, asset
    assert client.get("/docs/assets/swagger-ui.js.map").status_code == 404


def test_health_and_ready(client: FlaskClient) -> None:
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "read_database": "ok", "broker": "ok"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects",
        "/api/v1/ops/projections",
        "/api/v1/ops/projections/utilization/parked",
        "/metrics",
        "/ready",
    ],
)
def test_reads_answer_while_a_writer_holds_the_embedded_database(
    sqlite_stack: Stack, path: str
) -> None:
    """SQLite has one writer, and every transaction there begins IMMEDIATE. Checking the
    caller's token, reading a read model, the projections' status, the metrics and the
    readiness probe are reads outside any transaction, so a long write (a rebuild, a burst
    of commands) never makes them wait for its lock."""
    app = make_app(sqlite_stack)
    client, admin = app.test_client(), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    create_client(client, admin, "Acme")
    with sqlite_stack.databases.write.connect() as writer:
        writer.exec_driver_sql("SELECT 1")  # the engine's BEGIN IMMEDIATE: the write lock
        assert writer.in_transaction()
        response = client.get(path, headers=admin)
        assert response.status_code == 200, response.get_data(as_text=True)
    app.extensions["tally"].databases.dispose()

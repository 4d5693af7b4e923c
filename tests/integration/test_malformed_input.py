"""Malformed input that used to reach a 500: each is a 4xx problem and changes nothing."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from flask.testing import FlaskClient

from tests.support.api import create_client, create_person, create_project


@pytest.fixture
def project(client: FlaskClient, admin: dict[str, str]) -> dict[str, str]:
    manager_id = create_person(client, admin, "ann@example.com")["id"]
    created = create_project(client, admin, create_client(client, admin), manager_id)
    return {"project_id": created["id"], "person_id": manager_id}


def post_raw(client: FlaskClient, admin: dict[str, str], path: str, raw: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1{path}", data=raw, headers=admin | {"Content-Type": "application/json"}
    )


def entry(project: dict[str, str], hours: str) -> str:
    return (
        f'{{"project_id": "{project["project_id"]}", "person_id": "{project["person_id"]}", '
        f'"date": "2026-11-03", "hours": {hours}, "billable": true}}'
    )


@pytest.mark.parametrize(
    ("hours", "status"), [("1e26", 422), ("9" * 5000, 400), ("-1e308", 422), ("1e-30", 422)]
)
def test_hours_out_of_any_range_are_refused(
    client: FlaskClient, admin: dict[str, str], project: dict[str, str], hours: str, status: int
) -> None:
    response = post_raw(client, admin, "/time-entries", entry(project, hours))
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    listed = client.get("/api/v1/time-entries", headers=admin).get_json()
    assert listed["items"] == []


def test_an_estimate_of_1e26_hours_is_a_validation_error(
    client: FlaskClient, admin: dict[str, str], project: dict[str, str]
) -> None:
    response = post_raw(
        client,
        admin,
        f"/projects/{project['project_id']}/tasks",
        '{"name": "Build", "estimate_hours": 1e26}',
    )
    assert response.status_code == 422
    assert "estimate_hours" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "a\\ud800b"}',  # a lone surrogate: no database stores it
        "[" * 1000 + "]" * 1000,
        '{"name": ' + "[" * 2000 + "]" * 2000 + "}",
        '{"name": NaN}',
    ],
    ids=["lone-surrogate", "nested-1000", "nested-2000", "nan"],
)
def test_bodies_the_json_standard_refuses_or_no_schema_accepts_are_4xx(
    client: FlaskClient, admin: dict[str, str], raw: str
) -> None:
    response = post_raw(client, admin, "/clients", raw)
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert client.get("/api/v1/ops/projections", headers=admin).status_code == 200


@pytest.mark.parametrize("value", ["sNaN", "NaN", "Infinity", "-Infinity"])
def test_a_cursor_holding_no_number_is_refused(
    client: FlaskClient, admin: dict[str, str], value: str
) -> None:
    raw = json.dumps([value, str(uuid.uuid4())]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client.get(f"/api/v1/projects?sort=-budget_used_pct&cursor={cursor}", headers=admin)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"cursor": ["The cursor is not valid."]}

"""Archive and restore over HTTP: people, clients and projects retire without leaving any
report, and an archived person's token is refused."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.api import create_client, post
from tests.support.scenario import Scenario
from tests.support.stack import Stack


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']}"}


def person(client: FlaskClient, admin: dict[str, str], name: str, role: str) -> dict[str, Any]:
    body = {"first_name": name, "last_name": "X", "email": f"{name}@example.com", "role": role}
    return post(client, "/people", body | {"default_bill_rate": "100.00"}, admin)


def test_archive_and_restore_people_clients_and_projects(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    acme = create_client(client, admin, "Acme")
    mia, max_, ann = (
        person(client, admin, "mia", "manager"),
        person(client, admin, "max", "manager"),
        person(client, admin, "ann", "member"),
    )
    body = {"client_id": acme, "manager_id": mia["id"], "start_date": "2026-11-01"}
    web = post(client, "/projects", body | {"name": "Web", "budget": "1000.00"}, admin)["id"]
    old = post(client, "/projects", body | {"name": "Old", "budget": "0.00"}, admin)["id"]
    post(client, f"/projects/{web}/members", {"person_id": ann["id"], "role": "Dev"}, bearer(mia))
    entry = {"project_id": web, "person_id": ann["id"], "date": "2026-11-23", "billable": True}
    post(client, "/time-entries", entry | {"hours": 3}, bearer(ann))

    # An archived person: no token, no time; their 3 h at 100.00 stay on the dashboard.
    for who in (mia, ann):  # only admins archive people
        refused = client.post(f"/api/v1/people/{ann['id']}/archive", headers=bearer(who))
        assert refused.status_code == 403, refused.get_json()
    post(client, f"/people/{ann['id']}/archive", {}, admin, 200)
    refused = client.get("/api/v1/time-entries", headers=bearer(ann))
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    logged = client.post("/api/v1/time-entries", json=entry | {"hours": 1}, headers=admin)
    assert logged.status_code == 409, logged.get_json()
    Scenario(stack.databases).catch_up()
    board = client.get(f"/api/v1/projects/{web}/dashboard", headers=admin).get_json()
    assert (board["total_hours"], board["total_billed"]) == (3, "300.00")
    assert [m["name"] for m in board["team_members"]] == ["ann X"]
    post(client, f"/people/{ann['id']}/restore", {}, admin, 200)
    assert client.get("/api/v1/time-entries", headers=bearer(ann)).status_code == 200

    # An archived project: its manager may archive it, another manager may not; lists hide it.
    assert client.post(f"/api/v1/projects/{old}/archive", headers=bearer(max_)).status_code == 403
    post(client, f"/projects/{old}/archive", {}, bearer(mia), 200)
    Scenario(stack.databases).catch_up()
    listed = client.get("/api/v1/projects", headers=admin).get_json()["items"]
    assert [p["name"] for p in listed] == ["Web"]
    everything = client.get("/api/v1/projects?archived=true", headers=admin).get_json()["items"]
    assert [(p["name"], p["archived"]) for p in everything] == [("Old", True), ("Web", False)]
    old_entry = entry | {"project_id": old, "person_id": mia["id"], "hours": 1}
    assert (
        client.post("/api/v1/time-entries", json=old_entry, headers=bearer(mia)).status_code == 409
    )
    post(client, f"/projects/{old}/restore", {}, bearer(mia), 200)
    post(client, "/time-entries", old_entry, bearer(mia))

    # An archived client: no new projects; its projects carry on.
    post(client, f"/clients/{acme}/archive", {}, admin, 200)
    refused = client.post(
        "/api/v1/projects", json=body | {"name": "New", "budget": "1.00"}, headers=admin
    )
    assert refused.status_code == 409 and "archived" in refused.get_json()["detail"]
    post(client, "/time-entries", entry | {"hours": 2, "date": "2026-11-24"}, bearer(ann))
    post(client, f"/clients/{acme}/restore", {}, admin, 200)
    post(client, "/projects", body | {"name": "New", "budget": "1.00"}, admin)

    Scenario(stack.databases).catch_up()
    assert Scenario(stack.databases).drift() == {}
    unknown = client.post(
        "/api/v1/clients/00000000-0000-0000-0000-000000000000/archive", headers=admin
    )
    assert unknown.status_code == 404

"""Lookups from the read models: /me, clients, people (with their visibility rules), a
project's tasks and one time entry; paginated and filtered by name prefix like the lists."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from readmodels.status import projection_status
from readmodels.verify import verify
from tests.support.api import post
from tests.support.scenario import Scenario
from tests.support.stack import Stack

ROLES = (("Mia", "manager"), ("Ann", "member"), ("Bob", "member"), ("Cat", "member"))
ROLES += (("Dan", "manager"),)


def bearer(person: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {person['token']}"}


@pytest.fixture
def firm(client: FlaskClient, admin: dict[str, str], stack: Stack) -> dict[str, Any]:
    """Acme's Web project (Mia manages; Ann and Bob work on it), Cat on no project."""
    acme = post(client, "/clients", {"name": "Acme"}, admin)["id"]
    beta = post(client, "/clients", {"name": "Beta"}, admin)["id"]
    people = {
        first: post(
            client,
            "/people",
            {
                "first_name": first,
                "last_name": "Test",
                "email": f"{first.lower()}@example.com",
                "role": role,
            },
            admin,
        )
        for first, role in ROLES
    }
    web = post(
        client,
        "/projects",
        {
            "name": "Web",
            "client_id": acme,
            "manager_id": people["Mia"]["id"],
            "start_date": "2026-11-02",
            "budget": "1000.00",
            "default_bill_rate": "100.00",
        },
        admin,
    )["id"]
    for first in ("Ann", "Bob"):
        post(
            client,
            f"/projects/{web}/members",
            {"person_id": people[first]["id"], "role": "Dev"},
            admin,
        )
    tasks = [
        post(client, f"/projects/{web}/tasks", {"name": n}, admin)["id"]
        for n in ("Design", "Build")
    ]
    entries = {
        first: post(
            client,
            "/time-entries",
            {
                "project_id": web,
                "person_id": people[first]["id"],
                "date": "2026-11-03",
                "hours": 2,
                "billable": True,
                "task_id": tasks[0],
            },
            bearer(people[first]),
        )["id"]
        for first in ("Ann", "Bob")
    }
    Scenario(stack.databases).catch_up()
    return {"acme": acme, "beta": beta, "people": people, "web": web, "tasks": tasks,
            "entries": entries}  # fmt: skip


def get(client: FlaskClient, path: str, headers: dict[str, str], status: int = 200) -> Any:
    response = client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == status, (path, response.get_json())
    if status == 200:
        assert int(response.headers["X-Projection-Position"]) > 0
    else:
        assert response.mimetype == "application/problem+json"
    return response.get_json()


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_me_names_the_caller(client: FlaskClient, admin: dict[str, str], firm: dict) -> None:
    ann = firm["people"]["Ann"]
    me = get(client, "/me", bearer(ann))
    assert me["id"] == ann["id"] and me["email"] == "ann@example.com" and me["role"] == "member"
    assert get(client, "/me", admin)["role"] == "admin"


def test_clients_list_filter_page_and_lookup(
    client: FlaskClient, admin: dict[str, str], firm: dict
) -> None:
    ann = bearer(firm["people"]["Ann"])
    assert names(get(client, "/clients", ann)) == ["Acme", "Beta"]
    assert names(get(client, "/clients?name=ac", admin)) == ["Acme"]
    assert names(get(client, "/clients?name=%25", admin)) == []  # a literal %, not a wildcard
    first = get(client, "/clients?limit=1", admin)
    assert names(first) == ["Acme"] and first["next_cursor"]
    second = get(client, f"/clients?limit=1&cursor={first['next_cursor']}", admin)
    assert names(second) == ["Beta"] and second["next_cursor"] is None
    assert get(client, f"/clients/{firm['beta']}", ann) == {"id": firm["beta"], "name": "Beta"}
    get(client, f"/clients/{uuid.uuid4()}", admin, 404)
    get(client, "/clients?colour=red", admin, 422)


def test_people_admins_and_managers_see_everyone_members_their_teammates(
    client: FlaskClient, admin: dict[str, str], firm: dict
) -> None:
    people = firm["people"]
    everyone = ["Ann Test", "Bob Test", "Cat Test", "Dan Test", "Mia Test", "Tally Admin"]
    as_admin = get(client, "/people?limit=500", admin)
    assert names(as_admin) == everyone
    assert all(person["email"] for person in as_admin["items"])
    as_manager = get(client, "/people?limit=500", bearer(people["Dan"]))
    assert len(as_manager["items"]) == len(as_admin["items"])
    emails = {p["name"]: p["email"] for p in as_manager["items"]}
    assert emails["Dan Test"] == "dan@example.com" and emails["Ann Test"] is None
    as_ann = get(client, "/people", bearer(people["Ann"]))
    assert names(as_ann) == ["Ann Test", "Bob Test", "Mia Test"]
    assert {p["name"]: p["email"] for p in as_ann["items"]} == {
        "Ann Test": "ann@example.com",
        "Bob Test": None,
        "Mia Test": None,
    }
    assert names(get(client, "/people", bearer(people["Cat"]))) == ["Cat Test"]
    get(client, f"/people/{people['Cat']['id']}", bearer(people["Ann"]), 404)
    assert get(client, f"/people/{people['Bob']['id']}", bearer(people["Ann"]))["email"] is None
    assert get(client, f"/people/{people['Cat']['id']}", admin)["email"] == "cat@example.com"
    assert names(get(client, "/people?name=b", bearer(people["Ann"]))) == ["Bob Test"]
    pages, cursor = [], None
    while True:
        page = get(client, "/people?limit=2" + (f"&cursor={cursor}" if cursor else ""), admin)
        pages.append(names(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [name for page in pages for name in page] == names(as_admin)
    assert all(len(page) <= 2 for page in pages) and len(pages) == 3


def test_a_projects_tasks_for_those_who_may_see_the_project(
    client: FlaskClient, admin: dict[str, str], firm: dict
) -> None:
    people, web = firm["people"], firm["web"]
    for caller in (admin, bearer(people["Ann"]), bearer(people["Dan"])):
        tasks = get(client, f"/projects/{web}/tasks", caller)
        assert names(tasks) == ["Build", "Design"]
        assert tasks["items"][0] == {
            "id": firm["tasks"][1],
            "project_id": web,
            "name": "Build",
            "estimate_hours": None,
            "completed": False,
        }
    assert names(get(client, f"/projects/{web}/tasks?name=DE", admin)) == ["Design"]
    get(client, f"/projects/{web}/tasks", bearer(people["Cat"]), 404)
    get(client, f"/projects/{uuid.uuid4()}/tasks", admin, 404)


def test_one_time_entry_for_its_person_managers_and_admins(
    client: FlaskClient, admin: dict[str, str], firm: dict
) -> None:
    people, entries = firm["people"], firm["entries"]
    own = get(client, f"/time-entries/{entries['Ann']}", bearer(people["Ann"]))
    assert own["person_id"] == people["Ann"]["id"] and own["task_name"] == "Design"
    listed = get(client, f"/time-entries?person_id={people['Ann']['id']}", admin)["items"]
    assert listed == [own]
    get(client, f"/time-entries/{entries['Bob']}", bearer(people["Ann"]), 404)
    assert get(client, f"/time-entries/{entries['Bob']}", bearer(people["Mia"]))["hours"] == 2
    get(client, f"/time-entries/{uuid.uuid4()}", admin, 404)


def test_the_directory_is_a_projection_like_the_others(
    client: FlaskClient, admin: dict[str, str], firm: dict, stack: Stack
) -> None:
    client.patch(f"/api/v1/clients/{firm['acme']}", json={"name": "Acme Group"}, headers=admin)
    client.delete(
        f"/api/v1/projects/{firm['web']}/members/{firm['people']['Bob']['id']}", headers=admin
    )
    Scenario(stack.databases).catch_up()
    assert names(get(client, "/clients?name=acme", admin)) == ["Acme Group"]
    assert names(get(client, "/people", bearer(firm["people"]["Ann"]))) == ["Ann Test", "Mia Test"]
    assert verify(stack.databases, "directory").clean
    status = {row["name"]: row for row in projection_status(stack.databases)}
    assert status["directory"]["status"] == "ok"

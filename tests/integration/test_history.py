"""History from the event log: each entity's events in order with when, who, what changed
and why (rejections), under the entity's visibility rules; the rejection reason on the row."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from readmodels.verify import verify
from tests.support.api import post
from tests.support.scenario import Scenario
from tests.support.stack import Stack


def bearer(person: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {person['token']}"}


def get(client: FlaskClient, path: str, headers: dict[str, str], status: int = 200) -> Any:
    response = client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == status, (path, response.get_json())
    return response.get_json()


def change(client: FlaskClient, method: str, path: str, body: Any, headers: dict) -> None:
    response = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def story(client: FlaskClient, admin: dict[str, str], stack: Stack) -> dict[str, Any]:
    """Ann logs 2 h on Mia's project, amends to 3 h; Mia rejects it; Ann fixes the notes,
    Mia approves. Cat works on no project."""
    acme = post(client, "/clients", {"name": "Acme"}, admin)["id"]
    people = {
        first: post(
            client,
            "/people",
            {"first_name": first, "last_name": "Lee", "email": f"{first}@example.com".lower(),
             "role": role},
            admin,
        )
        for first, role in (("Mia", "manager"), ("Ann", "member"), ("Cat", "member"))
    }  # fmt: skip
    web = post(
        client,
        "/projects",
        {"name": "Web", "client_id": acme, "manager_id": people["Mia"]["id"],
         "start_date": "2026-11-02", "budget": "1000.00", "default_bill_rate": "100.00"},
        admin,
    )["id"]  # fmt: skip
    post(
        client, f"/projects/{web}/members", {"person_id": people["Ann"]["id"], "role": "Dev"}, admin
    )
    ann, mia = bearer(people["Ann"]), bearer(people["Mia"])
    entry = post(
        client,
        "/time-entries",
        {"project_id": web, "person_id": people["Ann"]["id"], "date": "2026-11-03",
         "hours": 2, "billable": True},
        ann,
    )["id"]  # fmt: skip
    change(client, "PATCH", f"/time-entries/{entry}", {"hours": 3}, ann)
    change(client, "POST", f"/time-entries/{entry}/reject", {"reason": "Wrong project"}, mia)
    Scenario(stack.databases).catch_up()
    rejected_row = get(client, f"/time-entries/{entry}", ann)
    rejected_list = get(client, "/time-entries", ann)["items"]
    change(client, "PATCH", f"/time-entries/{entry}", {"notes": "Moved"}, ann)
    change(client, "POST", f"/time-entries/{entry}/approve", None, mia)
    Scenario(stack.databases).catch_up()
    return {"people": people, "acme": acme, "web": web, "entry": entry,
            "rejected_row": rejected_row, "rejected_list": rejected_list}  # fmt: skip


def test_a_time_entrys_history_after_amend_reject_and_approve(
    client: FlaskClient, admin: dict[str, str], story: dict
) -> None:
    people = story["people"]
    items = get(client, f"/time-entries/{story['entry']}/history", bearer(people["Ann"]))["items"]
    assert [item["event"] for item in items] == [
        "TimeLogged",
        "TimeEntryAmended",
        "TimeEntryRejected",
        "TimeEntryAmended",
        "TimeEntryApproved",
    ]
    assert [item["version"] for item in items] == [1, 2, 3, 4, 5]
    actors = ["Ann Lee", "Ann Lee", "Mia Lee", "Ann Lee", "Mia Lee"]
    assert [item["actor"]["name"] for item in items] == actors
    assert items[0]["actor"]["id"] == people["Ann"]["id"]
    positions = [item["position"] for item in items]
    assert positions == sorted(positions)
    assert items[1]["changes"] == {
        "amount_cents": {"before": 20000, "after": 30000},
        "hours_hundredths": {"before": 200, "after": 300},
    }
    assert items[2]["changes"] == {"status": {"before": "draft", "after": "rejected"}}
    assert items[2]["reason"] == "Wrong project"
    assert items[3]["changes"]["status"] == {"before": "rejected", "after": "draft"}
    assert items[3]["changes"]["notes"] == {"before": None, "after": "Moved"}
    assert items[4]["reason"] is None and items[4]["at"] >= items[0]["at"]
    first_two = get(client, f"/time-entries/{story['entry']}/history?limit=2", admin)
    assert first_two["items"] == items[:2]
    rest = get(
        client,
        f"/time-entries/{story['entry']}/history?limit=2&cursor={first_two['next_cursor']}",
        admin,
    )
    assert rest["items"] == items[2:4] and rest["next_cursor"]


def test_the_rejection_reason_is_on_the_row_and_in_the_list_while_rejected(
    client: FlaskClient, story: dict, stack: Stack
) -> None:
    assert story["rejected_row"]["status"] == "rejected"
    assert story["rejected_row"]["rejection_reason"] == "Wrong project"
    assert [row["rejection_reason"] for row in story["rejected_list"]] == ["Wrong project"]
    approved = get(client, f"/time-entries/{story['entry']}", bearer(story["people"]["Ann"]))
    assert approved["status"] == "approved" and approved["rejection_reason"] is None
    assert verify(stack.databases, "time_entry_rows").clean


def test_history_follows_each_entitys_visibility(
    client: FlaskClient, admin: dict[str, str], story: dict
) -> None:
    people, web, entry = story["people"], story["web"], story["entry"]
    ann, cat, mia = (bearer(people[name]) for name in ("Ann", "Cat", "Mia"))
    get(client, f"/time-entries/{entry}/history", cat, 404)
    assert get(client, f"/time-entries/{entry}/history", mia)["items"]
    project = get(client, f"/projects/{web}/history", ann)["items"]
    assert [item["event"] for item in project] == ["ProjectCreated", "MemberAdded"]
    assert project[0]["actor"]["name"] == "Tally Admin"
    get(client, f"/projects/{web}/history", cat, 404)
    assert get(client, f"/projects/{web}/history", admin)["items"] == project
    mias = get(client, f"/people/{people['Mia']['id']}/history", ann)["items"]
    assert mias[0]["event"] == "PersonRegistered" and "email" not in mias[0]["data"]
    own = get(client, f"/people/{people['Ann']['id']}/history", ann)["items"]
    assert own[0]["data"]["email"] == "ann@example.com"
    assert (
        get(client, f"/people/{people['Mia']['id']}/history", admin)["items"][0]["data"]["email"]
        == "mia@example.com"
    )
    get(client, f"/people/{people['Ann']['id']}/history", cat, 404)
    client_history = get(client, f"/clients/{story['acme']}/history", cat)["items"]
    assert [item["event"] for item in client_history] == ["ClientRegistered"]
    assert client_history[0]["data"]["name"] == "Acme"
    for path in ("time-entries", "projects", "people", "clients"):
        get(client, f"/{path}/{uuid.uuid4()}/history", admin, 404)

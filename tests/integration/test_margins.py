"""Cost and margin, against figures computed by hand: two people at different bill and cost
rates, across a change of both rates."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.api import create_client, post
from tests.support.scenario import Scenario
from tests.support.stack import Stack


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']}"}


def get(client: FlaskClient, path: str, headers: dict[str, str]) -> Any:
    response = client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def person(client: FlaskClient, admin: dict[str, str], name: str, **rates: str) -> dict[str, Any]:
    body = {"first_name": name, "last_name": "X", "email": f"{name}@example.com"}
    return post(client, "/people", body | {"role": "member"} | rates, admin)


def test_margins_across_a_rate_change(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    acme = create_client(client, admin, "Acme")
    mia = post(
        client,
        "/people",
        {"first_name": "Mia", "last_name": "W", "email": "mia@example.com", "role": "manager"},
        admin,
    )
    ann = person(client, admin, "ann", cost_rate="60.00")
    bob = person(client, admin, "bob", default_bill_rate="90.00", cost_rate="50.00")
    project = post(
        client,
        "/projects",
        {
            "name": "Web",
            "client_id": acme,
            "manager_id": mia["id"],
            "start_date": "2026-11-01",
            "budget": "5000.00",
        },
        admin,
    )["id"]
    members = f"/projects/{project}/members"
    post(
        client, members, {"person_id": ann["id"], "role": "Dev", "bill_rate": "120.00"}, bearer(mia)
    )
    post(client, members, {"person_id": bob["id"], "role": "QA"}, bearer(mia))

    def log(who: dict[str, Any], date: str, hours: float, billable: bool = True) -> str:
        body = {"project_id": project, "person_id": who["id"], "date": date, "hours": hours}
        return post(client, "/time-entries", body | {"billable": billable}, bearer(who))["id"]

    ann_november = log(ann, "2026-11-23", 8)  # billed 960.00, cost 480.00
    log(bob, "2026-11-23", 4)  # billed 360.00, cost 200.00
    log(bob, "2026-11-24", 2, billable=False)  # billed 0, cost 100.00
    # Both of Ann's rates change: new entries take the new ones, logged ones keep theirs.
    patched = client.patch(
        f"/api/v1/people/{ann['id']}", json={"cost_rate": "70.00"}, headers=admin
    )
    assert patched.status_code == 200
    post(
        client,
        members,
        {"person_id": ann["id"], "role": "Dev", "bill_rate": "150.00"},
        bearer(mia),
        200,
    )
    log(ann, "2026-12-01", 4)  # billed 600.00, cost 280.00
    amended = client.patch(
        f"/api/v1/time-entries/{ann_november}", json={"hours": 7.5}, headers=bearer(ann)
    )
    assert amended.status_code == 200  # now billed 900.00 (120.00), cost 450.00 (60.00)
    rejected = log(bob, "2026-12-02", 1)
    post(client, f"/time-entries/{rejected}/reject", {"reason": "no"}, bearer(mia), 200)
    Scenario(stack.databases).catch_up()
    assert Scenario(stack.databases).drift() == {}

    board = get(client, f"/projects/{project}/dashboard", admin)
    assert (board["total_billed"], board["total_cost"], board["margin"]) == (
        "1860.00",
        "1030.00",
        "830.00",
    )
    assert board["margin_pct"] == 44.6  # 830 / 1860 = 44.62 %

    revenue = get(client, "/reports/revenue?from=2026-11-01&to=2026-12-31", admin)["items"]
    assert [(r["month"], r["billed"], r["cost"], r["margin"]) for r in revenue] == [
        ("2026-11", "1260.00", "750.00", "510.00"),
        ("2026-12", "600.00", "280.00", "320.00"),
    ]

    profitability = get(client, "/reports/profitability?from=2026-11-01&to=2026-12-31", admin)
    assert [
        (
            r["month"],
            r["project_name"],
            r["hours"],
            r["billed"],
            r["cost"],
            r["margin"],
            r["margin_pct"],
        )
        for r in profitability["items"]
    ] == [
        ("2026-11", "Web", 13.5, "1260.00", "750.00", "510.00", 40.5),  # 40.48 %
        ("2026-12", "Web", 4, "600.00", "280.00", "320.00", 53.3),  # 53.33 %
    ]
    december = get(client, "/reports/profitability?from=2026-12-01&to=2026-12-31", bearer(mia))
    assert [r["month"] for r in december["items"]] == ["2026-12"]
    refused = client.get(
        "/api/v1/reports/profitability?from=2026-11-01&to=2026-12-31", headers=bearer(ann)
    )
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"


def test_a_month_with_only_unbilled_time_shows_its_cost_and_no_margin_percentage(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    acme = create_client(client, admin, "Acme")
    mia = post(
        client,
        "/people",
        {
            "first_name": "Mia",
            "last_name": "W",
            "email": "mia@example.com",
            "role": "manager",
            "cost_rate": "40.00",
        },
        admin,
    )
    project = post(
        client,
        "/projects",
        {
            "name": "Internal",
            "client_id": acme,
            "manager_id": mia["id"],
            "start_date": "2026-11-01",
            "budget": "0.00",
        },
        admin,
    )["id"]
    body = {"project_id": project, "person_id": mia["id"], "date": "2026-11-02", "hours": 2.5}
    post(client, "/time-entries", body | {"billable": False}, bearer(mia))
    Scenario(stack.databases).catch_up()
    board = get(client, f"/projects/{project}/dashboard", admin)
    assert (board["total_cost"], board["margin"], board["margin_pct"]) == (
        "100.00",
        "-100.00",
        None,
    )
    rows = get(client, "/reports/profitability?from=2026-11-01&to=2026-11-30", admin)["items"]
    assert [(r["billed"], r["cost"], r["margin"], r["margin_pct"]) for r in rows] == [
        ("0.00", "100.00", "-100.00", None)
    ]
    revenue = get(client, "/reports/revenue?from=2026-11-01&to=2026-11-30", admin)["items"]
    assert [(r["billable_hours"], r["cost"], r["margin"]) for r in revenue] == [
        (0, "100.00", "-100.00")
    ]

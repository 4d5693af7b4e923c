"""Queries and reports over HTTP, against figures computed by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.api import create_client, post
from tests.support.scenario import Scenario
from tests.support.stack import Stack


def token_headers(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']}"}


@pytest.fixture
def books(client: FlaskClient, admin: dict[str, str], stack: Stack) -> dict[str, Any]:
    """Acme's project with Ann (member rate 120.00, 40 h) and Bob (own rate 90.00, 32 h)."""
    acme = create_client(client, admin, "Acme")
    mia = post(
        client,
        "/people",
        {"first_name": "Mia", "last_name": "Wong", "email": "mia@example.com", "role": "manager"},
        admin,
    )
    ann = post(
        client,
        "/people",
        {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "role": "member"},
        admin,
    )
    bob = post(
        client,
        "/people",
        {
            "first_name": "Bob",
            "last_name": "Ray",
            "email": "bob@example.com",
            "role": "member",
            "weekly_capacity_hours": 32,
            "default_bill_rate": "90.00",
        },
        admin,
    )
    project = post(
        client,
        "/projects",
        {
            "name": "Web",
            "client_id": acme,
            "manager_id": mia["id"],
            "start_date": "2026-11-01",
            "budget": "10000.00",
        },
        admin,
    )["id"]
    as_mia = token_headers(mia)
    post(
        client,
        f"/projects/{project}/members",
        {"person_id": ann["id"], "role": "Engineer", "bill_rate": "120.00"},
        as_mia,
    )
    post(client, f"/projects/{project}/members", {"person_id": bob["id"], "role": "QA"}, as_mia)

    def log(who: dict[str, Any], date: str, hours: float, billable: bool = True) -> str:
        return post(
            client,
            "/time-entries",
            {
                "project_id": project,
                "person_id": who["id"],
                "date": date,
                "hours": hours,
                "billable": billable,
            },
            token_headers(who),
        )["id"]

    log(ann, "2026-11-23", 7.5)
    log(ann, "2026-11-24", 8, billable=False)
    log(ann, "2026-11-25", 3.33)
    log(bob, "2026-11-23", 8)
    rejected = log(bob, "2026-11-24", 1.5)
    log(bob, "2026-11-29", 2.25)
    log(ann, "2026-12-01", 4)
    post(client, f"/time-entries/{rejected}/reject", {"reason": "not ours"}, as_mia, 200)
    Scenario(stack.databases).catch_up()
    return {"project": project, "acme": acme, "ann": ann, "bob": bob, "mia": mia, "as_mia": as_mia}


def get(client: FlaskClient, path: str, headers: dict[str, str], status: int = 200) -> Any:
    response = client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == status, response.get_json()
    if status == 200:
        assert "X-Projection-Position" in response.headers
    return response.get_json()


def test_the_dashboard_counts_submitted_and_approved_entries_only(
    client: FlaskClient, admin: dict[str, str], books: dict[str, Any]
) -> None:
    row = get(client, f"/projects/{books['project']}/dashboard", admin)
    assert row["total_hours"] == 33.08
    assert row["billable_hours"] == 25.08
    assert row["total_billed"] == "2702.10"
    assert row["budget_remaining"] == "7297.90"
    assert row["budget_used_pct"] == 27.0  # 27.021 %
    assert [m["name"] for m in row["team_members"]] == ["Ann Lee", "Bob Ray"]
    assert row["team_members"][0]["bill_rate"] == "120.00"
    assert row["team_members"][1]["bill_rate"] is None


def test_utilization_per_person_and_iso_week(
    client: FlaskClient, admin: dict[str, str], books: dict[str, Any]
) -> None:
    rows = get(client, "/reports/utilization?from=2026-11-23&to=2026-12-06", admin)["items"]
    found = {(r["person_name"], r["week"]): r for r in rows}
    assert set(found) == {("Ann Lee", "2026-W48"), ("Bob Ray", "2026-W48"), ("Ann Lee", "2026-W49")}
    ann = found[("Ann Lee", "2026-W48")]
    assert (ann["hours"], ann["billable_hours"], ann["capacity_hours"]) == (18.83, 10.83, 40)
    assert ann["utilization_pct"] == 47.1  # 47.075 rounds half up
    assert ann["billable_utilization_pct"] == 27.1  # 27.075
    bob = found[("Bob Ray", "2026-W48")]
    assert (bob["hours"], bob["capacity_hours"], bob["utilization_pct"]) == (10.25, 32, 32.0)
    assert found[("Ann Lee", "2026-W49")]["utilization_pct"] == 10.0
    later = get(client, "/reports/utilization?from=2026-11-30&to=2026-12-06", admin)["items"]
    assert [(r["person_name"], r["week"]) for r in later] == [("Ann Lee", "2026-W49")]


def test_revenue_per_client_and_month(
    client: FlaskClient, admin: dict[str, str], books: dict[str, Any]
) -> None:
    rows = get(client, "/reports/revenue?from=2026-11-01&to=2026-12-31", admin)["items"]
    assert [(r["month"], r["client_name"], r["billable_hours"], r["billed"]) for r in rows] == [
        ("2026-11", "Acme", 21.08, "2222.10"),
        ("2026-12", "Acme", 4, "480.00"),
    ]


def test_budget_burn_per_week_with_cumulative_billing(
    client: FlaskClient, books: dict[str, Any]
) -> None:
    rows = get(client, f"/reports/budget-burn?project_id={books['project']}", books["as_mia"])[
        "items"
    ]
    assert rows == [
        {
            "week": "2026-W48",
            "hours": 29.08,
            "billed": "2222.10",
            "cumulative_billed": "2222.10",
            "budget_remaining": "7777.90",
        },
        {
            "week": "2026-W49",
            "hours": 4,
            "billed": "480.00",
            "cumulative_billed": "2702.10",
            "budget_remaining": "7297.90",
        },
    ]


def test_time_entries_are_paged_newest_first_and_members_see_their_own(
    client: FlaskClient, admin: dict[str, str], books: dict[str, Any]
) -> None:
    seen, cursor = [], None
    while True:
        page = get(client, "/time-entries?limit=2" + (f"&cursor={cursor}" if cursor else ""), admin)
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7
    assert [e["date"] for e in seen] == sorted((e["date"] for e in seen), reverse=True)
    assert seen[0]["client_name"] == "Acme" and seen[0]["project_name"] == "Web"
    own = get(client, "/time-entries", token_headers(books["bob"]))["items"]
    assert {e["person_name"] for e in own} == {"Bob Ray"}
    assert len(own) == 3
    other = get(
        client, f"/time-entries?person_id={books['ann']['id']}", token_headers(books["bob"])
    )["items"]
    assert other == []
    rejected = get(client, "/time-entries?status=rejected", admin)["items"]
    assert [e["hours"] for e in rejected] == [1.5]
    november = get(client, "/time-entries?from=2026-11-24&to=2026-11-25", admin)["items"]
    assert sorted(e["date"] for e in november) == ["2026-11-24", "2026-11-24", "2026-11-25"]


def test_an_entry_shows_its_billable_amount_and_its_value(
    client: FlaskClient, admin: dict[str, str], books: dict[str, Any]
) -> None:
    """Ann's 8 h at 120.00 on 2026-11-24 is not billable: worth 960.00, billed 0.00."""
    rows = get(client, f"/time-entries?person_id={books['ann']['id']}", admin)["items"]
    amounts = {(e["date"], e["billable"]): (e["billable_amount"], e["value"]) for e in rows}
    assert amounts == {
        ("2026-12-01", True): ("480.00", "480.00"),
        ("2026-11-25", True): ("399.60", "399.60"),  # 3.33 h x 120.00
        ("2026-11-24", False): ("0.00", "960.00"),
        ("2026-11-23", True): ("900.00", "900.00"),
    }
    assert all("amount" not in e for e in rows)
    billed = sum(Decimal(e["billable_amount"]) for e in rows)
    assert billed == Decimal("1779.60")  # 480.00 + 399.60 + 0.00 + 900.00


def test_project_list_filters_sorts_and_scopes_members(
    client: FlaskClient, admin: dict[str, str], books: dict[str, Any], stack: Stack
) -> None:
    other = post(
        client,
        "/projects",
        {
            "name": "Audit",
            "client_id": books["acme"],
            "manager_id": books["mia"]["id"],
            "start_date": "2026-11-01",
            "budget": "0.00",
        },
        admin,
    )
    names = [p["name"] for p in get(client, "/projects", admin)["items"]]
    assert names == ["Audit", "Web"]
    by_use = [p["name"] for p in get(client, "/projects?sort=-budget_used_pct", admin)["items"]]
    assert by_use == ["Web", "Audit"]
    first = get(client, "/projects?limit=1", admin)
    second = get(client, f"/projects?limit=1&cursor={first['next_cursor']}", admin)
    assert [p["name"] for p in first["items"] + second["items"]] == ["Audit", "Web"]
    assert second["next_cursor"] is None
    mine = get(client, "/projects", token_headers(books["ann"]))["items"]
    assert [p["name"] for p in mine] == ["Web"]
    post(client, f"/projects/{other['id']}/close", {}, admin, 200)
    Scenario(stack.databases).catch_up()
    closed = get(client, "/projects?status=closed", admin)["items"]
    assert [p["name"] for p in closed] == ["Audit"]


@pytest.mark.parametrize(
    "query",
    [
        "/reports/revenue?from=2026-01-01",
        "/time-entries?limit=501",
        "/time-entries?limit=0",
        "/time-entries?cursor=not-a-cursor",
        "/projects?sort=budget",
    ],
)
def test_bad_query_parameters_are_422(
    client: FlaskClient, admin: dict[str, str], query: str
) -> None:
    response = client.get(f"/api/v1{query}", headers=admin)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"


def test_reports_are_for_admins_and_managers(client: FlaskClient, books: dict[str, Any]) -> None:
    as_ann = token_headers(books["ann"])
    get(client, "/reports/utilization?from=2026-11-01&to=2026-11-30", as_ann, 403)
    get(client, "/reports/revenue?from=2026-11-01&to=2026-11-30", as_ann, 403)
    get(client, f"/reports/budget-burn?project_id={books['project']}", as_ann, 403)

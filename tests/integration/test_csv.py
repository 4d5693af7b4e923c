"""CSV: the time-entry list and the three reports answer `Accept: text/csv` with every row
of the range (pages joined, never cut short), the same rows and values as their JSON, under
the same filters and permissions."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from api import csv_export
from tests.support.api import post
from tests.support.scenario import Scenario
from tests.support.stack import Stack

CSV = {"Accept": "text/csv"}


def bearer(person: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {person['token']}"}


@pytest.fixture
def ledger(
    client: FlaskClient, admin: dict[str, str], stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Zoë and Ann log 7 entries over three weeks on Mia's project; exports page by 2."""
    monkeypatch.setattr(csv_export, "PAGE_ROWS", 2)
    acme = post(client, "/clients", {"name": "Acme, Ünited"}, admin)["id"]
    people = {
        first: post(
            client,
            "/people",
            {"first_name": first, "last_name": "Lee", "email": f"{i}@example.com", "role": role},
            admin,
        )
        for i, (first, role) in enumerate(
            (("Mia", "manager"), ("Zoë", "member"), ("Ann", "member"), ("Max", "manager"))
        )
    }
    web = post(
        client,
        "/projects",
        {"name": "Web", "client_id": acme, "manager_id": people["Mia"]["id"],
         "start_date": "2026-11-02", "budget": "5000.00", "default_bill_rate": "100.50"},
        admin,
    )["id"]  # fmt: skip
    for first in ("Zoë", "Ann"):
        member = {"person_id": people[first]["id"], "role": "Dev"}
        post(client, f"/projects/{web}/members", member, admin)
    days = ["2026-11-02", "2026-11-05", "2026-11-10", "2026-11-17"]
    for i, day in enumerate(days + days[:3]):
        first = "Zoë" if i % 2 else "Ann"
        post(
            client,
            "/time-entries",
            {"project_id": web, "person_id": people[first]["id"], "date": day,
             "hours": 1.25 + i, "billable": i != 3, "notes": f'said "hi", line {i}'},
            bearer(people[first]),
        )  # fmt: skip
    Scenario(stack.databases).catch_up()
    return {"people": people, "web": web}


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def exported(client: FlaskClient, path: str, headers: dict[str, str]) -> list[dict[str, str]]:
    response = client.get(f"/api/v1{path}", headers=headers | CSV)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert int(response.headers["X-Projection-Position"]) > 0
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8"))))


def every_item(client: FlaskClient, path: str, headers: dict[str, str]) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get(
            f"/api/v1{path}&limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=headers
        ).get_json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def assert_same(rows: list[dict[str, str]], items: list[dict[str, Any]]) -> None:
    assert len(rows) == len(items) > 2  # more than one export page
    for row, item in zip(rows, items, strict=True):
        assert set(row) == set(item)
        assert row == {key: as_text(value) for key, value in item.items()}


def test_time_entries_as_csv_match_the_json_and_the_members_view(
    client: FlaskClient, admin: dict[str, str], ledger: dict
) -> None:
    query = "/time-entries?from=2026-11-01&to=2026-11-30"
    rows = exported(client, query, admin)
    assert_same(rows, every_item(client, query, admin))
    assert len(rows) == 7
    assert rows[0]["date"] == "2026-11-17" and rows[0]["client_name"] == "Acme, Ünited"
    zoe = bearer(ledger["people"]["Zoë"])
    own = exported(client, query, zoe)
    assert {row["person_name"] for row in own} == {"Zoë Lee"}
    assert_same(own, every_item(client, query, zoe))
    narrowed = exported(client, "/time-entries?from=2026-11-01&to=2026-11-05", admin)
    assert {row["date"] for row in narrowed} == {"2026-11-02", "2026-11-05"}


@pytest.mark.parametrize(
    ("query", "field"),
    [("/time-entries", "from"), ("/time-entries?from=2026-01-01", "to"),
     ("/time-entries?from=2026-01-01&to=2027-01-02", "to"),
     ("/reports/utilization?from=2025-01-01&to=2026-12-31", "to")],
)  # fmt: skip
def test_an_export_needs_a_bounded_range(
    client: FlaskClient, admin: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/api/v1{query}", headers=admin | CSV)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_reports_as_csv_match_the_json_with_the_same_permissions(
    client: FlaskClient, admin: dict[str, str], ledger: dict
) -> None:
    people, web = ledger["people"], ledger["web"]
    for path in (
        "/reports/utilization?from=2026-11-01&to=2026-11-30",
        "/reports/revenue?from=2026-01-01&to=2026-12-31",
    ):
        rows = exported(client, path, admin)
        items = every_item(client, path, admin)
        if "revenue" in path:
            assert len(rows) == len(items) == 1 and rows[0]["billed"] == items[0]["billed"]
        else:
            assert_same(rows, items)
        member = client.get(f"/api/v1{path}", headers=bearer(people["Zoë"]) | CSV)
        assert member.status_code == 403
    burn = f"/reports/budget-burn?project_id={web}"
    mia = bearer(people["Mia"])
    rows = exported(client, burn, mia)
    assert_same(rows, client.get(f"/api/v1{burn}", headers=mia).get_json()["items"])
    assert client.get(f"/api/v1{burn}", headers=bearer(people["Max"]) | CSV).status_code == 403


def test_json_stays_the_default(client: FlaskClient, admin: dict[str, str], ledger: dict) -> None:
    for accept in ("*/*", "application/json", "application/json, text/csv;q=0.5"):
        response = client.get("/api/v1/time-entries", headers=admin | {"Accept": accept})
        assert response.mimetype == "application/json"

"""Weekly timesheets over HTTP, against figures computed by hand: a week submitted, approved
by one manager, rejected by another, amended and resubmitted."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from domain import commands, errors, handlers, model
from domain.store import tables as write_tables
from domain.store.unit_of_work import SqlUnitOfWork
from tests.support.api import create_client, post
from tests.support.scenario import Scenario
from tests.support.stack import TEST_POLICY, Stack


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']}"}


def person(client: FlaskClient, admin: dict[str, str], name: str, role: str) -> dict[str, Any]:
    body = {"first_name": name, "last_name": "X", "email": f"{name}@example.com", "role": role}
    return post(client, "/people", body, admin) | {"name": f"{name} X"}


def sheet(client: FlaskClient, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/timesheets?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_a_week_submitted_approved_rejected_and_resubmitted(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    acme = create_client(client, admin, "Acme")
    mia, max_, ann, ned = (
        person(client, admin, "mia", "manager"),
        person(client, admin, "max", "manager"),
        person(client, admin, "ann", "member"),
        person(client, admin, "ned", "member"),
    )
    projects = {}
    for name, manager in (("Web", mia), ("App", max_)):
        body = {"name": name, "client_id": acme, "manager_id": manager["id"]}
        body |= {"start_date": "2026-11-01", "budget": "1000.00"}
        projects[name] = post(client, "/projects", body, admin)["id"]
        post(
            client,
            f"/projects/{projects[name]}/members",
            {"person_id": ann["id"], "role": "Dev"},
            bearer(manager),
        )

    def log(project: str, date: str, hours: float) -> str:
        body = {"project_id": projects[project], "person_id": ann["id"], "date": date}
        return post(
            client, "/time-entries", body | {"hours": hours, "billable": True}, bearer(ann)
        )["id"]

    log("Web", "2026-11-23", 8)
    log("Web", "2026-11-24", 7.5)
    app_entry = log("App", "2026-11-25", 4)
    log("Web", "2026-11-30", 2)  # 2026-W49, left in draft
    week = f"/timesheets/{ann['id']}/2026-W48"

    def w48(headers: dict[str, str] = admin) -> dict[str, Any]:
        Scenario(stack.databases).catch_up()
        (row,) = sheet(client, headers, "week=2026-W48")
        return row

    row = w48()
    assert (row["hours"], row["status"], row["draft_entries"], row["last_action"]) == (
        19.5,
        "draft",
        3,
        None,
    )
    for refused, headers, status in (
        (f"{week}/approve", bearer(mia), 409),  # nothing submitted yet
        (f"{week}/submit", bearer(ned), 403),  # not Ned's week
        (f"{week}/approve", bearer(ann), 403),  # members review nothing
    ):
        response = client.post(f"/api/v1{refused}", headers=headers)
        assert response.status_code == status, (refused, response.get_json())
        assert response.mimetype == "application/problem+json"

    post(client, f"{week}/submit", {}, bearer(ann), 200)
    row = w48(bearer(ann))
    assert (row["status"], row["submitted_entries"], row["last_action"], row["acted_by_name"]) == (
        "submitted",
        3,
        "submitted",
        "ann X",
    )
    assert client.post(f"/api/v1{week}/submit", headers=bearer(ann)).status_code == 409
    waiting = sheet(client, bearer(mia), "status=submitted")
    assert [(r["person_name"], r["week"]) for r in waiting] == [("ann X", "2026-W48")]

    post(client, f"{week}/approve", {}, bearer(mia), 200)  # Mia's project only: Web
    row = w48()
    assert (row["status"], row["approved_entries"], row["submitted_entries"]) == ("mixed", 2, 1)
    assert (row["last_action"], row["acted_by_name"], row["hours"]) == ("approved", "mia X", 19.5)

    post(client, f"{week}/reject", {"reason": "wrong project"}, bearer(max_), 200)
    row = w48()
    assert (row["status"], row["approved_entries"], row["rejected_entries"]) == ("mixed", 2, 1)
    assert (row["hours"], row["reason"], row["acted_by_name"]) == (15.5, "wrong project", "max X")
    assert [r["week"] for r in sheet(client, admin, "status=mixed")] == ["2026-W48"]

    amended = client.patch(
        f"/api/v1/time-entries/{app_entry}", json={"hours": 3}, headers=bearer(ann)
    )
    assert amended.status_code == 200
    row = w48()
    assert (row["status"], row["draft_entries"], row["hours"]) == ("mixed", 1, 18.5)

    post(client, f"{week}/submit", {}, bearer(ann), 200)
    post(client, f"{week}/approve", {}, bearer(max_), 200)
    row = w48()
    assert (row["status"], row["approved_entries"], row["hours"]) == ("approved", 3, 18.5)
    assert (row["last_action"], row["acted_by_name"]) == ("approved", "max X")

    (w49,) = sheet(client, admin, "week=2026-W49")
    assert (w49["status"], w49["hours"]) == ("draft", 2)
    dashboard = client.get(f"/api/v1/projects/{projects['Web']}/dashboard", headers=admin)
    assert dashboard.get_json()["total_hours"] == 17.5  # drafts count: 8 + 7.5 + 2
    assert sheet(client, bearer(ned), "") == []  # members see their own weeks only
    assert Scenario(stack.databases).drift() == {}

    for bad_week in ("2026-48", "2027-W53"):  # not a week, and a week 2027 does not have
        bad = client.post(f"/api/v1/timesheets/{ann['id']}/{bad_week}/submit", headers=bearer(ann))
        assert bad.status_code == 404 and bad.mimetype == "application/problem+json"
    bad_query = client.get("/api/v1/timesheets?status=done", headers=admin)
    assert bad_query.status_code == 422


def test_nobody_approves_their_own_week_and_a_locked_week_is_not_submitted(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    acme = create_client(client, admin, "Acme")
    mia = person(client, admin, "mia", "manager")
    body = {"name": "Web", "client_id": acme, "manager_id": mia["id"]}
    project = post(
        client, "/projects", body | {"start_date": "2026-11-01", "budget": "1.00"}, admin
    )
    entry = {"project_id": project["id"], "person_id": mia["id"], "hours": 1, "billable": True}
    post(client, "/time-entries", entry | {"date": "2026-11-23"}, bearer(mia))
    week = f"/api/v1/timesheets/{mia['id']}/2026-W48"
    assert client.post(f"{week}/submit", headers=bearer(mia)).status_code == 200
    own = client.post(f"{week}/approve", headers=bearer(mia))
    assert own.status_code == 403
    assert own.get_json()["type"].endswith("/own-time-review")

    post(client, "/time-entries", entry | {"date": "2026-11-30"}, bearer(mia))
    put = client.put("/api/v1/settings/lock-date", json={"lock_date": "2026-11-30"}, headers=admin)
    assert put.status_code == 200
    locked = client.post(f"/api/v1/timesheets/{mia['id']}/2026-W49/submit", headers=bearer(mia))
    assert locked.status_code == 409
    assert locked.get_json()["type"].endswith("/period-locked")
    assert client.post(f"{week}/approve", headers=admin).status_code == 200  # approving is not


def race(stack: Stack, *racing: commands.Command) -> list[object]:
    """Run commands at once, each in its own transaction; their outcomes or errors."""
    start = threading.Barrier(len(racing))
    results: list[object] = [None] * len(racing)

    def run(index: int, cmd: commands.Command) -> None:
        start.wait()
        try:
            results[index] = handlers.handle(
                cmd, SqlUnitOfWork(stack.databases.write, policy=TEST_POLICY)
            )
        except errors.DomainError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=item) for item in enumerate(racing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def statuses(stack: Stack, entry_ids: list[uuid.UUID]) -> list[tuple[str, int]]:
    entries = write_tables.time_entries
    with stack.databases.write.connect() as conn:
        found = dict(
            (row.id, (row.status, row.hours_hundredths))
            for row in conn.execute(
                select(entries.c.id, entries.c.status, entries.c.hours_hundredths).where(
                    entries.c.id.in_(entry_ids)
                )
            )
        )
    return [found[entry_id] for entry_id in entry_ids]


def test_racing_submits_and_a_submit_racing_an_amend_end_as_the_rules_allow(
    pg_stack: Stack,
) -> None:
    s = Scenario(pg_stack.databases)
    mia = s.person("Mia", "Wong", "manager")
    ann = s.person("Ann", "Lee")
    project = s.project(s.client(), mia)
    s.member(project, ann)
    for round_ in range(4):
        monday = dt.date(2026, 11, 2) + dt.timedelta(weeks=2 * round_)
        week = model.week_of(monday)
        logged = [s.log(project, ann, monday + dt.timedelta(days=day), 100) for day in range(3)]
        first, second = race(
            pg_stack, commands.SubmitTimesheet(ann, week), commands.SubmitTimesheet(ann, week)
        )
        outcomes = sorted(type(result).__name__ for result in (first, second))
        assert outcomes == ["InvalidTransition", "Outcome"], (first, second)
        assert statuses(pg_stack, logged) == [("submitted", 100)] * 3

        next_week = model.week_of(monday + dt.timedelta(weeks=1))
        later = [s.log(project, ann, monday + dt.timedelta(days=7 + day), 100) for day in range(3)]
        amend = commands.AmendTimeEntry(entry_id=later[1], changes={"hours_hundredths": 250})
        submitted, amended = race(pg_stack, commands.SubmitTimesheet(ann, next_week), amend)
        assert isinstance(submitted, handlers.Outcome) and isinstance(amended, handlers.Outcome)
        # Amended first: the submit took the amended entry. Submitted first: the amendment
        # made that entry a draft again.
        assert statuses(pg_stack, later) in (
            [("submitted", 100), ("submitted", 250), ("submitted", 100)],
            [("submitted", 100), ("draft", 250), ("submitted", 100)],
        )
    s.catch_up()
    assert s.drift() == {}

"""Every command rule and every status it answers, over HTTP: the status, the problem+json
shape, and that a refused command appends no event."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, insert, select

from domain.policy import utc_today
from domain.store.idempotency import purge_expired
from domain.store.tables import event_log, idempotency_keys, people
from domain.store.tokens import ADMIN_EMAIL
from tests.conftest import make_app
from tests.support.api import create_person, create_project, post
from tests.support.stack import Stack
from workers.celery_app import make_celery


def events(stack: Stack) -> int:
    with stack.databases.write.connect() as conn:
        return conn.execute(select(func.count()).select_from(event_log)).scalar_one()


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']}"}


@pytest.fixture
def org(client: FlaskClient, admin: dict[str, str]) -> dict[str, Any]:
    acme = post(client, "/clients", {"name": "Acme"}, admin)["id"]
    people = {
        name: post(
            client,
            "/people",
            {
                "first_name": name,
                "last_name": "X",
                "email": f"{name.lower()}@example.com",
                "role": role,
            },
            admin,
        )
        for name, role in (
            ("Mia", "manager"),
            ("Max", "manager"),
            ("Ann", "member"),
            ("Ned", "member"),
        )
    }
    web = post(
        client,
        "/projects",
        {
            "name": "Web",
            "client_id": acme,
            "manager_id": people["Mia"]["id"],
            "start_date": "2026-01-01",
            "budget": "1000.00",
        },
        admin,
    )
    closed = post(
        client,
        "/projects",
        {
            "name": "Old",
            "client_id": acme,
            "manager_id": people["Mia"]["id"],
            "start_date": "2026-01-01",
            "budget": "0.00",
        },
        admin,
    )
    other = post(
        client,
        "/projects",
        {
            "name": "Other",
            "client_id": acme,
            "manager_id": people["Max"]["id"],
            "start_date": "2026-01-01",
            "budget": "0.00",
        },
        admin,
    )
    as_mia = bearer(people["Mia"])
    for project in (web, closed):
        post(
            client,
            f"/projects/{project['id']}/members",
            {"person_id": people["Ann"]["id"], "role": "Dev"},
            as_mia,
        )
    post(client, f"/projects/{closed['id']}/close", {}, as_mia, 200)
    other_task = post(client, f"/projects/{other['id']}/tasks", {"name": "T"}, admin)["id"]
    entry = post(
        client,
        "/time-entries",
        {
            "project_id": web["id"],
            "person_id": people["Ann"]["id"],
            "date": "2026-11-23",
            "hours": 20,
            "billable": True,
        },
        bearer(people["Ann"]),
    )["id"]
    approved = post(
        client,
        "/time-entries",
        {
            "project_id": web["id"],
            "person_id": people["Ann"]["id"],
            "date": "2026-11-24",
            "hours": 1,
            "billable": True,
        },
        bearer(people["Ann"]),
    )["id"]
    post(client, f"/time-entries/{approved}/approve", {}, as_mia, 200)
    rejected = post(
        client,
        "/time-entries",
        {
            "project_id": web["id"],
            "person_id": people["Ann"]["id"],
            "date": "2026-11-25",
            "hours": 1,
            "billable": True,
        },
        bearer(people["Ann"]),
    )["id"]
    post(client, f"/time-entries/{rejected}/reject", {"reason": "no"}, as_mia, 200)
    return {
        "acme": acme,
        "web": web["id"],
        "web_version": web["version"],
        "closed": closed["id"],
        "entry": entry,
        "approved": approved,
        "rejected": rejected,
        "other_task": other_task,
        **{name: body["id"] for name, body in people.items()},
        **{f"as_{name.lower()}": bearer(body) for name, body in people.items()},
    }


def log_body(o: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {
        "project_id": o["web"],
        "person_id": o["Ann"],
        "date": "2026-11-26",
        "hours": 2,
        "billable": True,
    } | change


# (case, caller, method, path, body or raw, extra headers, status)
CASES: list[tuple[str, str, str, str, Any, dict[str, str], int]] = [
    ("malformed JSON", "admin", "POST", "/time-entries", b"{", {}, 400),
    ("bad query parameter", "admin", "GET", "/projects?limit=many", None, {}, 422),
    ("unknown query parameter", "admin", "GET", "/projects?colour=red", None, {}, 422),
    ("query on a command", "admin", "POST", "/clients?colour=red", {"name": "N"}, {}, 422),
    ("bad If-Match", "admin", "PATCH", "/projects/{web}", {"name": "N"}, {"If-Match": "v1"}, 422),
    ("no token", "nobody", "POST", "/clients", {"name": "A"}, {}, 401),
    ("unknown token", "forged", "POST", "/clients", {"name": "A"}, {}, 401),
    ("member registers a client", "as_ann", "POST", "/clients", {"name": "A"}, {}, 403),
    ("member sends a person body no one could", "as_ann", "POST", "/people", {"x": 1}, {}, 403),
    ("member sends a bad verify body", "as_ann", "POST", "/ops/projections/verify", [], {}, 403),
    (
        "manager registers a person",
        "as_mia",
        "POST",
        "/people",
        {"first_name": "A", "last_name": "B", "email": "a@b.com", "role": "member"},
        {},
        403,
    ),
    (
        "another manager edits the project",
        "as_max",
        "PATCH",
        "/projects/{web}",
        {"name": "N"},
        {},
        403,
    ),
    ("a member edits the project", "as_ann", "PATCH", "/projects/{web}", {"name": "N"}, {}, 403),
    (
        "a member logs time for someone else",
        "as_ned",
        "POST",
        "/time-entries",
        "log_for_ann",
        {},
        403,
    ),
    (
        "a member approves their own entry",
        "as_ann",
        "POST",
        "/time-entries/{entry}/approve",
        None,
        {},
        403,
    ),
    ("another manager approves", "as_max", "POST", "/time-entries/{entry}/approve", None, {}, 403),
    (
        "a manager amends someone's entry",
        "as_mia",
        "PATCH",
        "/time-entries/{entry}",
        {"hours": 1},
        {},
        403,
    ),
    ("unknown project", "admin", "PATCH", "/projects/{unknown}", {"name": "N"}, {}, 404),
    # The object's access check comes before any validation too (api/openapi.checked_first).
    ("another manager, unknown field", "as_max", "PATCH", "/projects/{web}", {"x": 1}, {}, 403),
    (
        "another member's entry, bad If-Match",
        "as_ned",
        "PATCH",
        "/time-entries/{entry}",
        {"hours": 1},
        {"If-Match": "v1"},
        404,
    ),
    (
        "unknown task, bad If-Match",
        "admin",
        "POST",
        "/tasks/{unknown}/complete",
        None,
        {"If-Match": "v1"},
        404,
    ),
    ("project the member is not on", "as_ned", "GET", "/projects/{web}/dashboard", None, {}, 404),
    ("another member's entry", "as_ned", "PATCH", "/time-entries/{entry}", {"hours": 1}, {}, 404),
    ("unknown entry", "admin", "DELETE", "/time-entries/{unknown}", None, {}, 404),
    ("unknown task", "admin", "POST", "/tasks/{unknown}/complete", None, {}, 404),
    ("unknown member", "admin", "DELETE", "/projects/{web}/members/{Ned}", None, {}, 404),
    ("logging on a closed project", "as_ann", "POST", "/time-entries", "log_on_closed", {}, 409),
    (
        "amending an approved entry",
        "as_ann",
        "PATCH",
        "/time-entries/{approved}",
        {"hours": 2},
        {},
        409,
    ),
    ("deleting an approved entry", "as_ann", "DELETE", "/time-entries/{approved}", None, {}, 409),
    (
        "approving a rejected entry",
        "as_mia",
        "POST",
        "/time-entries/{rejected}/approve",
        None,
        {},
        409,
    ),
    ("more than 24 hours on a day", "as_ann", "POST", "/time-entries", "log_too_much", {}, 409),
    (
        "amending past 24 hours",
        "as_ann",
        "PATCH",
        "/time-entries/{rejected}",
        {"hours": 4.01, "date": "2026-11-23"},
        {},
        409,
    ),
    ("a person not on the project", "admin", "POST", "/time-entries", "log_for_ned", {}, 409),
    (
        "a duplicate email",
        "admin",
        "POST",
        "/people",
        {"first_name": "A", "last_name": "B", "email": "MIA@example.com", "role": "member"},
        {},
        409,
    ),
    (
        "a stale If-Match",
        "admin",
        "PATCH",
        "/projects/{web}",
        {"name": "N"},
        {"If-Match": '"999"'},
        412,
    ),
    (
        "a body over 1 MiB",
        "admin",
        "POST",
        "/clients",
        b'{"name": "' + b"x" * (1024 * 1024) + b'"}',
        {},
        413,
    ),
    ("not JSON", "admin", "POST", "/clients", "text", {}, 415),
    ("missing fields", "as_ann", "POST", "/time-entries", {"hours": 1}, {}, 422),
    ("an unknown field", "as_ann", "POST", "/time-entries", "log_with_extra", {}, 422),
    ("zero hours", "as_ann", "POST", "/time-entries", "log_zero", {}, 422),
    ("more than 24 hours", "as_ann", "POST", "/time-entries", "log_25", {}, 422),
    ("three decimals", "as_ann", "POST", "/time-entries", "log_3_decimals", {}, 422),
    ("notes over 2000", "as_ann", "POST", "/time-entries", "log_long_notes", {}, 422),
    ("billable as a string", "as_ann", "POST", "/time-entries", "log_billable_yes", {}, 422),
    ("a task of another project", "as_ann", "POST", "/time-entries", "log_other_task", {}, 404),
    ("a date before the project", "as_ann", "POST", "/time-entries", "log_before_start", {}, 409),
    ("a date in 1900", "as_ann", "POST", "/time-entries", "log_1900", {}, 409),
    (
        "amending to a date before the project",
        "as_ann",
        "PATCH",
        "/time-entries/{entry}",
        {"date": "2025-12-31"},
        {},
        409,
    ),
    (
        "an unknown client",
        "admin",
        "POST",
        "/projects",
        {
            "name": "P",
            "client_id": "{unknown}",
            "manager_id": "{Mia}",
            "start_date": "2026-01-01",
            "budget": "1.00",
        },
        {},
        404,
    ),
    (
        "a member as manager",
        "admin",
        "POST",
        "/projects",
        {
            "name": "P",
            "client_id": "{acme}",
            "manager_id": "{Ann}",
            "start_date": "2026-01-01",
            "budget": "1.00",
        },
        {},
        409,
    ),
    ("end before start", "admin", "PATCH", "/projects/{web}", {"end_date": "2025-01-01"}, {}, 409),
    ("an empty PATCH", "admin", "PATCH", "/people/{Ann}", {}, {}, 422),
    ("a name of 201 characters", "admin", "PATCH", "/clients/{acme}", {"name": "x" * 201}, {}, 422),
    ("money with 3 decimals", "admin", "PATCH", "/projects/{web}", {"budget": "1.001"}, {}, 422),
]


def _fill(value: Any, o: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(unknown=uuid.uuid4(), **o)
    if isinstance(value, dict):
        return {k: _fill(v, o) for k, v in value.items()}
    return value


NAMED_BODIES = {
    "log_for_ann": lambda o: log_body(o),
    "log_on_closed": lambda o: log_body(o, project_id=o["closed"]),
    "log_too_much": lambda o: log_body(o, date="2026-11-23", hours=4.01),
    "log_for_ned": lambda o: log_body(o, person_id=o["Ned"]),
    "log_with_extra": lambda o: log_body(o, colour="red"),
    "log_zero": lambda o: log_body(o, hours=0),
    "log_25": lambda o: log_body(o, hours=24.01),
    "log_3_decimals": lambda o: log_body(o, hours=1.234),
    "log_long_notes": lambda o: log_body(o, notes="x" * 2001),
    "log_billable_yes": lambda o: log_body(o, billable="yes"),
    "log_other_task": lambda o: log_body(o, task_id=o["other_task"]),
    "log_before_start": lambda o: log_body(o, date="2025-12-31"),
    "log_1900": lambda o: log_body(o, date="1900-01-01"),
}


@pytest.mark.parametrize(
    ("case", "caller", "method", "path", "body", "extra", "status"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_refused_requests_answer_problem_json_and_change_nothing(
    client: FlaskClient,
    admin: dict[str, str],
    stack: Stack,
    org: dict[str, Any],
    case: str,
    caller: str,
    method: str,
    path: str,
    body: Any,
    extra: dict[str, str],
    status: int,
) -> None:
    headers = {"admin": admin, "nobody": {}, "forged": {"Authorization": "Bearer forged"}}.get(
        caller, org.get(caller, {})
    ) | extra
    kwargs: dict[str, Any] = {"headers": headers}
    if body == "text":
        kwargs |= {"data": "name=A", "content_type": "text/plain"}
    elif isinstance(body, bytes):
        kwargs |= {"data": body, "content_type": "application/json"}
    elif isinstance(body, str):
        kwargs["json"] = NAMED_BODIES[body](org)
    elif body is not None:
        kwargs["json"] = _fill(body, org)
    before = events(stack)
    response = client.open(f"/api/v1{_fill(path, org)}", method=method, **kwargs)
    assert response.status_code == status, (case, response.get_json())
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert problem["type"].startswith("https://")
    if status == 422 and method != "GET":
        assert problem["errors"], problem
    assert events(stack) == before, f"{case} appended an event"


def test_two_racing_13_hour_entries_exactly_one_wins(
    app: Any, org: dict[str, Any], stack: Stack
) -> None:
    results: list[int] = []
    barrier = threading.Barrier(2)

    def log() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/time-entries",
            headers=org["as_ann"],
            json=log_body(org, date="2026-12-07", hours=13),
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=log) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409]


def test_if_match_and_etag(client: FlaskClient, admin: dict[str, str], org: dict[str, Any]) -> None:
    path = f"/api/v1/projects/{org['web']}"
    current = f'"{org["web_version"] + 1}"'  # Ann joined the team after creation
    ok = client.patch(path, json={"name": "Web 2"}, headers=admin | {"If-Match": current})
    assert ok.status_code == 200, ok.get_json()
    assert ok.headers["ETag"] == f'"{org["web_version"] + 2}"'
    assert (
        client.patch(
            path, json={"name": "Web 3"}, headers=admin | {"If-Match": current}
        ).status_code
        == 412
    )


def test_idempotency_key_replays_refuses_other_bodies_and_in_flight_retries(
    client: FlaskClient, org: dict[str, Any], stack: Stack
) -> None:
    headers = org["as_ann"] | {"Idempotency-Key": "entry-1"}
    body = log_body(org, date="2026-12-08")
    first = client.post("/api/v1/time-entries", json=body, headers=headers)
    assert first.status_code == 201
    count = events(stack)
    again = client.post("/api/v1/time-entries", json=body, headers=headers)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert events(stack) == count
    different = client.post("/api/v1/time-entries", json=log_body(org, hours=3), headers=headers)
    assert different.status_code == 409
    assert different.mimetype == "application/problem+json"
    # The same key from another caller is another key.
    mia = client.post(
        "/api/v1/clients",
        json={"name": "Z"},
        headers=org["as_mia"] | {"Idempotency-Key": "entry-1"},
    )
    assert mia.status_code == 201
    # A first request still running: its claim has no response yet.
    raw = json.dumps(log_body(org, date="2026-12-09")).encode()
    claim_key(stack, org["Ann"], "running", raw, dt.timedelta(0))
    running = log_as_ann(client, org, raw, "running")
    assert running.status_code == 409, running.get_json()
    assert events(stack) == count + 1  # only Mia's client
    refused = client.post(
        "/api/v1/clients",
        json={"name": "R"},
        headers=org["as_ann"] | {"Idempotency-Key": "refused"},
    )
    assert refused.status_code == 403
    replay = client.post(
        "/api/v1/clients",
        json={"name": "R"},
        headers=org["as_ann"] | {"Idempotency-Key": "refused"},
    )
    assert replay.status_code == 403
    assert replay.headers["Idempotent-Replayed"] == "true"


def log_as_ann(client: FlaskClient, org: dict[str, Any], body: bytes, key: str) -> Any:
    """POST these exact bytes to /time-entries as Ann, with this Idempotency-Key."""
    return client.post(
        "/api/v1/time-entries",
        data=body,
        content_type="application/json",
        headers=org["as_ann"] | {"Idempotency-Key": key},
    )


def claim_key(
    stack: Stack,
    caller: str,
    key: str,
    body: bytes,
    age: dt.timedelta,
    status: int | None = None,
) -> None:
    """Store an Idempotency-Key as a request made `age` ago left it."""
    fingerprint = hashlib.sha256(b"POST /api/v1/time-entries\n" + body).hexdigest()
    stored = {"body": {}, "mimetype": "application/json", "headers": {}}
    response = None if status is None else stored
    with stack.databases.write.begin() as conn:
        conn.execute(
            insert(idempotency_keys).values(
                caller_id=uuid.UUID(caller),
                key=key,
                request_hash=fingerprint,
                status_code=status,
                response_body=response,
                created_at=dt.datetime.now(dt.UTC) - age,
            )
        )


def test_an_idempotency_key_past_its_24_hours_is_a_new_claim(
    client: FlaskClient, org: dict[str, Any], stack: Stack
) -> None:
    """Whether or not beat's purge has deleted it yet, an expired key replays nothing and
    refuses no other body: the request runs, and its own response is kept for replay."""
    old = json.dumps(log_body(org, date="2026-12-01")).encode()
    claim_key(stack, org["Ann"], "reused", old, dt.timedelta(hours=25), status=201)
    headers = org["as_ann"] | {"Idempotency-Key": "reused"}
    count = events(stack)
    first = client.post("/api/v1/time-entries", json=log_body(org, hours=3), headers=headers)
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert events(stack) == count + 1
    again = client.post("/api/v1/time-entries", json=log_body(org, hours=3), headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert events(stack) == count + 1


def test_an_abandoned_claim_is_taken_over(
    client: FlaskClient, org: dict[str, Any], stack: Stack
) -> None:
    body = json.dumps(log_body(org, date="2026-12-02")).encode()
    claim_key(stack, org["Ann"], "abandoned", body, dt.timedelta(minutes=6))
    count = events(stack)
    retry = log_as_ann(client, org, body, "abandoned")
    assert retry.status_code == 201, retry.get_json()
    assert events(stack) == count + 1


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)  # SQLite: one writer at a time
def test_of_two_retries_taking_over_a_claim_only_one_runs(
    client: FlaskClient, org: dict[str, Any], stack: Stack
) -> None:
    """Another retry claims the abandoned key between this one's read of it and its update:
    this one is refused with 409 and appends nothing."""
    body = json.dumps(log_body(org, date="2026-12-03")).encode()
    claim_key(stack, org["Ann"], "contested", body, dt.timedelta(minutes=6))
    keys = idempotency_keys

    def claimed_by_another_retry(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE idempotency_keys") and "created_at" in statement:
            with stack.databases.write.connect() as other, other.begin():
                other.execute(
                    keys.update()
                    .where(keys.c.key == "contested")
                    .values(created_at=dt.datetime.now(dt.UTC))
                )

    engine = client.application.extensions["tally"].databases.write
    count = events(stack)
    event.listen(engine, "before_cursor_execute", claimed_by_another_retry)
    try:
        retry = log_as_ann(client, org, body, "contested")
    finally:
        event.remove(engine, "before_cursor_execute", claimed_by_another_retry)
    assert retry.status_code == 409, retry.get_json()
    assert events(stack) == count


def test_beat_purges_idempotency_keys_past_their_24_hours(
    org: dict[str, Any], stack: Stack
) -> None:
    body = b"{}"
    claim_key(stack, org["Ann"], "expired", body, dt.timedelta(hours=25), status=201)
    claim_key(stack, org["Ann"], "kept", body, dt.timedelta(hours=23), status=201)
    assert purge_expired(stack.databases.write) == 1
    with stack.databases.write.connect() as conn:
        left = set(conn.execute(select(idempotency_keys.c.key)).scalars())
    assert left == {"kept"}
    app = make_celery(stack.settings)
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "tally.purge_idempotency_keys" in scheduled
    app.loader.import_default_modules()
    assert "tally.purge_idempotency_keys" in app.tasks


def test_time_is_logged_up_to_the_configured_days_ahead_of_today(
    stack: Stack, admin: dict[str, str]
) -> None:
    """TALLY_MAX_FUTURE_DAYS (default 0) bounds how far ahead of today (UTC) an entry lies;
    the project's end date bounds it too."""
    today = utc_today()
    for days_ahead in (0, 3):
        stack.reset()
        app = make_app(stack, max_future_days=days_ahead)
        client = app.test_client()
        try:
            acme = post(client, "/clients", {"name": "Acme"}, admin)["id"]
            mia = create_person(client, admin, "mia@example.com")
            project = post(
                client,
                "/projects",
                {
                    "name": "Web",
                    "client_id": acme,
                    "manager_id": mia["id"],
                    "start_date": (today - dt.timedelta(days=30)).isoformat(),
                    "end_date": (today + dt.timedelta(days=2)).isoformat(),
                    "budget": "100.00",
                },
                admin,
            )["id"]
            body = {"project_id": project, "person_id": mia["id"], "hours": 1, "billable": True}
            latest = today + dt.timedelta(days=min(days_ahead, 2))
            for date in (today, latest):
                post(client, "/time-entries", body | {"date": date.isoformat()}, bearer(mia))
            too_late = latest + dt.timedelta(days=1)
            before = events(stack)
            refused = client.post(
                "/api/v1/time-entries",
                json=body | {"date": too_late.isoformat()},
                headers=bearer(mia),
            )
            assert refused.status_code == 409  # valid by the document, refused by the day
            assert refused.mimetype == "application/problem+json"
            assert list(refused.get_json()["errors"]) == ["date"]
            assert events(stack) == before
        finally:
            app.extensions["tally"].databases.dispose()


def test_a_manager_may_not_approve_their_own_time_an_admin_may_and_it_is_recorded(
    client: FlaskClient, admin: dict[str, str], stack: Stack, org: dict[str, Any]
) -> None:
    own = post(client, "/time-entries", log_body(org, person_id=org["Mia"]), org["as_mia"])["id"]
    before = events(stack)
    for path, body in (
        (f"/time-entries/{own}/approve", {}),
        (f"/time-entries/{own}/reject", {"reason": "x"}),
    ):
        refused = client.post(f"/api/v1{path}", json=body, headers=org["as_mia"])
        assert refused.status_code == 403
        assert refused.mimetype == "application/problem+json"
        assert refused.get_json()["type"] == "https://tally.example/problems/own-time-review"
    assert events(stack) == before

    with stack.databases.write.connect() as conn:
        admin_id = str(
            conn.execute(select(people.c.id).where(people.c.email == ADMIN_EMAIL)).scalar_one()
        )
    post(client, f"/projects/{org['web']}/members", {"person_id": admin_id, "role": "Lead"}, admin)
    admins_own = post(client, "/time-entries", log_body(org, person_id=admin_id), admin)["id"]
    post(client, f"/time-entries/{admins_own}/approve", {}, admin, 200)
    with stack.databases.write.connect() as conn:
        data = conn.execute(
            select(event_log.c.data).order_by(event_log.c.position.desc()).limit(1)
        ).scalar_one()
    assert (data["actor_id"], data["overrides"]) == (admin_id, ["own_time"])


def test_the_firm_may_let_managers_approve_their_own_time(
    stack: Stack, admin: dict[str, str]
) -> None:
    app = make_app(stack, allow_self_approval=True)
    client = app.test_client()
    try:
        acme = post(client, "/clients", {"name": "Acme"}, admin)["id"]
        mia = create_person(client, admin, "mia@example.com")
        project = create_project(client, admin, acme, mia["id"])["id"]
        body = {"project_id": project, "person_id": mia["id"], "date": "2026-11-23"}
        own = post(client, "/time-entries", body | {"hours": 1, "billable": True}, bearer(mia))
        post(client, f"/time-entries/{own['id']}/approve", {}, bearer(mia), 200)
    finally:
        app.extensions["tally"].databases.dispose()


def test_a_lock_date_refuses_each_command_but_an_admins_which_is_recorded(
    client: FlaskClient, admin: dict[str, str], stack: Stack, org: dict[str, Any]
) -> None:
    """org's entries: `entry` on 11-23 (submitted), `approved` 11-24, `rejected` 11-25."""
    lock = {"lock_date": "2026-11-25"}
    assert (
        client.put("/api/v1/settings/lock-date", json=lock, headers=org["as_mia"]).status_code
        == 403
    )
    set_lock = client.put("/api/v1/settings/lock-date", json=lock, headers=admin)
    assert set_lock.status_code == 200, set_lock.get_json()
    current = client.get(
        f"/api/v1/settings/lock-date?min_position={set_lock.get_json()['position']}",
        headers=org["as_ann"],
    )
    assert current.get_json()["lock_date"] == "2026-11-25"
    assert current.get_json()["set_by"] is not None

    later = post(client, "/time-entries", log_body(org, date="2026-11-26"), org["as_ann"])["id"]
    as_ann, as_mia = org["as_ann"], org["as_mia"]
    refusals = [
        ("POST", "/time-entries", log_body(org, date="2026-11-25"), as_ann),
        ("PATCH", f"/time-entries/{org['entry']}", {"hours": 3}, as_ann),
        ("PATCH", f"/time-entries/{org['rejected']}", {"hours": 3}, as_ann),
        ("PATCH", f"/time-entries/{later}", {"date": "2026-11-20"}, as_ann),
        ("DELETE", f"/time-entries/{org['entry']}", None, as_ann),
        ("POST", f"/time-entries/{org['entry']}/reject", {"reason": "late"}, as_mia),
    ]
    before = events(stack)
    for method, path, body, headers in refusals:
        response = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert response.status_code == 409, (path, response.get_json())
        problem = response.get_json()
        assert problem["type"] == "https://tally.example/problems/period-locked", problem
        assert "2026-11-25" in problem["detail"]
    assert events(stack) == before
    post(client, f"/time-entries/{org['entry']}/approve", {}, as_mia, 200)  # approving is not

    amended = client.patch(
        f"/api/v1/time-entries/{org['rejected']}", json={"hours": 3}, headers=admin
    )
    assert amended.status_code == 200
    with stack.databases.write.connect() as conn:
        data = conn.execute(
            select(event_log.c.data).order_by(event_log.c.position.desc()).limit(1)
        ).scalar_one()
        admin_id = conn.execute(
            select(people.c.id).where(people.c.email == ADMIN_EMAIL)
        ).scalar_one()
    assert (data["actor_id"], data["overrides"]) == (str(admin_id), ["lock_date"])

    unlock = client.put("/api/v1/settings/lock-date", json={"lock_date": None}, headers=admin)
    assert unlock.status_code == 200
    assert client.delete(f"/api/v1/time-entries/{later}", headers=as_ann).status_code == 200
    for bad in ({"lock_date": "2026-13-01"}, {}, {"lock_date": "2026-11-25", "x": 1}):
        refused = client.put("/api/v1/settings/lock-date", json=bad, headers=admin)
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json"

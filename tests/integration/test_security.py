"""Security through the Flask app on both stacks: token lifecycle, replays without secrets,
the leak case, headers, metrics protection, readiness without internals, name characters."""

from __future__ import annotations

import datetime as dt
import json
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from cli.dev import stored_dev_token
from domain.settings import Settings
from domain.store.db import Databases
from domain.store.tables import api_tokens, idempotency_keys
from domain.store.tokens import parse_duration
from tests.conftest import ADMIN_TOKEN, make_app
from tests.support.api import create_client, create_person, create_project, post
from tests.support.stack import Stack


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def team(client: FlaskClient, admin: dict[str, str]) -> dict[str, Any]:
    """A manager's project with Ann on it; Ned is a member on no project."""
    client_id = create_client(client, admin, "Acme")
    mia = create_person(client, admin, "mia@example.com", "manager", "Mia")
    ann = create_person(client, admin, "ann@example.com", "member", "Ann")
    ned = create_person(client, admin, "ned@example.com", "member", "Ned")
    secret = create_project(client, admin, client_id, mia["id"], name="Project Nightingale")
    post(
        client,
        f"/projects/{secret['id']}/members",
        {"person_id": ann["id"], "role": "Dev"},
        bearer(mia["token"]),
    )
    return {"mia": mia, "ann": ann, "ned": ned, "secret": secret["id"], "client_id": client_id}


def test_an_owner_lists_and_revokes_tokens_and_never_sees_a_secret(
    client: FlaskClient, admin: dict[str, str], team: dict[str, Any], stack: Stack
) -> None:
    ann = team["ann"]
    mine = client.get("/api/v1/me/tokens", headers=bearer(ann["token"]))
    assert mine.status_code == 200
    [first] = mine.get_json()["items"]
    assert set(first) == {"id", "name", "created_at", "last_used_at", "expires_at", "current"}
    assert first["name"] == "first token"
    assert first["current"] is True
    assert first["last_used_at"] is not None  # this very request used it
    assert first["expires_at"] is None
    assert ann["token"] not in mine.get_data(as_text=True)

    second = client.post(
        f"/api/v1/people/{ann['id']}/tokens",
        json={"name": "laptop", "expires_in_days": 90},
        headers=admin,
    )
    assert second.status_code == 201, second.get_json()
    laptop = second.get_json()
    assert laptop["token"].startswith("tly_")
    expires = dt.datetime.fromisoformat(laptop["expires_at"])
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
    with stack.databases.write.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert laptop["token"] not in stored and ann["token"] not in stored

    listed = client.get(f"/api/v1/people/{ann['id']}/tokens", headers=admin).get_json()["items"]
    assert [t["name"] for t in listed] == ["first token", "laptop"]
    assert not any(t["current"] for t in listed)  # the admin's own token is not among them
    # A member may not see or revoke anyone else's tokens.
    ned = bearer(team["ned"]["token"])
    assert client.get(f"/api/v1/people/{ann['id']}/tokens", headers=ned).status_code == 403
    assert client.delete(f"/api/v1/me/tokens/{laptop['id']}", headers=ned).status_code == 404
    assert client.get("/api/v1/me/tokens", headers=bearer(laptop["token"])).status_code == 200

    revoked = client.delete(f"/api/v1/me/tokens/{first['id']}", headers=bearer(ann["token"]))
    assert revoked.status_code == 204
    assert client.get("/api/v1/me/tokens", headers=bearer(ann["token"])).status_code == 401
    assert client.get("/api/v1/me/tokens", headers=bearer(laptop["token"])).status_code == 200
    by_admin = client.delete(f"/api/v1/people/{ann['id']}/tokens/{laptop['id']}", headers=admin)
    assert by_admin.status_code == 204
    refused = client.get("/api/v1/me/tokens", headers=bearer(laptop["token"]))
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/people/{uuid.uuid4()}/tokens", headers=admin).status_code == 404


def test_an_expired_token_is_refused(
    client: FlaskClient, admin: dict[str, str], team: dict[str, Any], stack: Stack
) -> None:
    made = client.post(
        f"/api/v1/people/{team['ann']['id']}/tokens",
        json={"name": "short", "expires_in_days": 1},
        headers=admin,
    ).get_json()
    with stack.databases.write.begin() as conn:
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == uuid.UUID(made["id"]))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    expired = client.get("/api/v1/me/tokens", headers=bearer(made["token"]))
    assert expired.status_code == 401
    assert "expired" in expired.get_json()["detail"]
    assert client.get("/api/v1/me/tokens", headers=bearer(team["ann"]["token"])).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "x", "expires_in_days": 0}, {}, {"name": "TALLY_ADMIN_TOKEN"}],
)
def test_a_bad_token_request_is_422_and_creates_nothing(
    client: FlaskClient, admin: dict[str, str], body: dict[str, Any], stack: Stack
) -> None:
    person = create_person(client, admin, "zoe@example.com", "member")
    response = client.post(f"/api/v1/people/{person['id']}/tokens", json=body, headers=admin)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    listed = client.get(f"/api/v1/people/{person['id']}/tokens", headers=admin).get_json()
    assert len(listed["items"]) == 1


def test_a_changed_bootstrap_token_replaces_the_old_one(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    assert client.get("/api/v1/me/tokens", headers=admin).status_code == 200
    restarted = make_app(stack, admin_token="rotated-admin-token")
    try:
        again = restarted.test_client()
        assert again.get("/api/v1/me/tokens", headers=admin).status_code == 401
        mine = again.get("/api/v1/me/tokens", headers=bearer("rotated-admin-token"))
        assert mine.status_code == 200
        assert [t["name"] for t in mine.get_json()["items"]] == ["TALLY_ADMIN_TOKEN"]
        token_id = mine.get_json()["items"][0]["id"]
    finally:
        restarted.extensions["tally"].databases.dispose()
    unchanged = make_app(stack, admin_token="rotated-admin-token")
    try:
        items = unchanged.test_client().get(
            "/api/v1/me/tokens", headers=bearer("rotated-admin-token")
        )
        assert [t["id"] for t in items.get_json()["items"]] == [token_id]
    finally:
        unchanged.extensions["tally"].databases.dispose()


def test_an_idempotent_replay_of_a_new_token_withholds_it(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    body = {"first_name": "Eve", "last_name": "Ng", "email": "eve@example.com", "role": "member"}
    headers = admin | {"Idempotency-Key": "eve"}
    first = client.post("/api/v1/people", json=body, headers=headers)
    assert first.status_code == 201
    token = first.get_json()["token"]
    replay = client.post("/api/v1/people", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Idempotent-Withheld"] == "token"
    assert replay.get_json() == {k: v for k, v in first.get_json().items() if k != "token"}
    with stack.databases.write.connect() as conn:
        stored = conn.execute(select(idempotency_keys.c.response_body)).scalars().all()
    assert stored and token not in json.dumps(stored)


def test_a_member_logging_on_a_project_they_cannot_see_learns_nothing_about_it(
    client: FlaskClient, admin: dict[str, str], team: dict[str, Any]
) -> None:
    ned = bearer(team["ned"]["token"])
    entry = {"person_id": team["ned"]["id"], "date": "2026-11-26", "hours": 1, "billable": True}
    hidden = client.post(
        "/api/v1/time-entries", json=entry | {"project_id": team["secret"]}, headers=ned
    )
    missing_id = str(uuid.uuid4())
    missing = client.post(
        "/api/v1/time-entries", json=entry | {"project_id": missing_id}, headers=ned
    )
    # An id in the body that names nothing the caller may see: 404, as for one that names nothing.
    assert hidden.status_code == missing.status_code == 404
    assert "Nightingale" not in hidden.get_data(as_text=True)
    assert hidden.get_json()["errors"] == {"project_id": [f"no project {team['secret']}"]}
    assert missing.get_json()["errors"] == {"project_id": [f"no project {missing_id}"]}
    read = client.get(f"/api/v1/projects/{team['secret']}/dashboard", headers=ned)
    assert read.status_code == 404
    # A closed project the member cannot see says nothing of its state either.
    post(client, f"/projects/{team['secret']}/close", {}, bearer(team["mia"]["token"]), 200)
    closed = client.post(
        "/api/v1/time-entries", json=entry | {"project_id": team["secret"]}, headers=ned
    )
    assert closed.status_code == 404
    assert "closed" not in closed.get_data(as_text=True)
    ann = bearer(team["ann"]["token"])
    on_team = entry | {"person_id": team["ann"]["id"], "project_id": team["secret"]}
    assert client.post("/api/v1/time-entries", json=on_team, headers=ann).status_code == 409


def test_a_member_naming_a_task_of_a_project_they_cannot_see_learns_nothing_about_it(
    client: FlaskClient, admin: dict[str, str], team: dict[str, Any]
) -> None:
    task_id = post(client, f"/projects/{team['secret']}/tasks", {"name": "Design"}, admin)["id"]
    hidden = client.post(f"/api/v1/tasks/{task_id}/complete", headers=bearer(team["ned"]["token"]))
    assert hidden.status_code == 404
    assert hidden.get_json()["detail"] == f"No task {task_id}."
    assert team["secret"] not in hidden.get_data(as_text=True)
    on_team = client.post(f"/api/v1/tasks/{task_id}/complete", headers=bearer(team["ann"]["token"]))
    assert on_team.status_code == 403
    missing = client.post(f"/api/v1/tasks/{uuid.uuid4()}/complete", headers=admin)
    assert missing.status_code == 404


def test_security_headers(client: FlaskClient, admin: dict[str, str]) -> None:
    for path, headers in (
        ("/api/v1/me/tokens", admin),
        ("/api/v1/me/tokens", {}),
        ("/health", {}),
        ("/no-such-page", {}),
    ):
        response = client.get(path, headers=headers)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Cache-Control"] == "no-store", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    created = client.post(
        "/api/v1/people",
        json={"first_name": "T", "last_name": "K", "email": "t@example.com", "role": "member"},
        headers=admin,
    )
    assert created.headers["Cache-Control"] == "no-store"
    docs = client.get("/docs")
    policy = docs.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert docs.headers["X-Frame-Options"] == "DENY"
    assert docs.headers["X-Content-Type-Options"] == "nosniff"


def test_metrics_need_the_metrics_token_when_one_is_set(stack: Stack) -> None:
    app = make_app(stack, metrics_token="scrape-secret")
    try:
        http = app.test_client()
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers=bearer(ADMIN_TOKEN)).status_code == 401
        scraped = http.get("/metrics", headers=bearer("scrape-secret"))
        assert scraped.status_code == 200
        assert b"tally_event_log_head" in scraped.data
    finally:
        app.extensions["tally"].databases.dispose()
    moved = make_app(stack, metrics_port=9999)
    try:
        http = moved.test_client()
        assert http.get("/metrics").status_code == 404
        on_port = {"SERVER_PORT": "9999"}
        assert http.get("/metrics", environ_overrides=on_port).status_code == 200
        assert http.get("/health", environ_overrides=on_port).status_code == 404
    finally:
        moved.extensions["tally"].databases.dispose()


def test_ready_names_the_failed_dependency_without_internals(stack: Stack) -> None:
    app = make_app(stack, broker_url="redis://127.0.0.1:1/0")
    try:
        response = app.test_client().get("/ready")
    finally:
        app.extensions["tally"].databases.dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"] == {"database": "ok", "read_database": "ok", "broker": "failed"}
    assert "broker" in body["detail"]
    assert "Error" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "character", ["\u202e", "\u200b", "\u200d", "\u2066", "\ufeff", "\u061c", "\u00ad"]
)
def test_names_refuse_bidi_controls_and_invisible_characters(
    client: FlaskClient, admin: dict[str, str], character: str, stack: Stack
) -> None:
    name = f"Ac{character}me"
    client_id = create_client(client, admin, "Acme")
    cases = (
        ("POST", "/api/v1/clients", {"name": name}, "name"),
        ("PATCH", f"/api/v1/clients/{client_id}", {"name": name}, "name"),
        (
            "POST",
            "/api/v1/people",
            {"first_name": name, "last_name": "L", "email": "x@example.com", "role": "member"},
            "first_name",
        ),
    )
    for method, path, body, field in cases:
        response = client.open(path, method=method, json=body, headers=admin)
        assert response.status_code == 422, (path, response.get_json())
        assert field in response.get_json()["errors"]
    assert (
        client.post("/api/v1/clients", json={"name": "Zoë Ärger"}, headers=admin).status_code == 201
    )


def test_durations_for_expires_in() -> None:
    assert parse_duration("90d") == dt.timedelta(days=90)
    assert parse_duration("12h") == dt.timedelta(hours=12)
    assert parse_duration("2w") == dt.timedelta(weeks=2)
    for bad in ("0d", "90", "d", "-1d", "1y"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_embedded_files_are_created_for_their_owner_only(tmp_path: Path) -> None:
    settings = Settings.from_env({"TALLY_HOME_DIR": str(tmp_path)})
    assert stat.S_IMODE(settings.ensure_home().stat().st_mode) == 0o700
    legacy = tmp_path / "old.db"
    legacy.touch(mode=0o644)
    legacy.chmod(0o644)
    for url in (settings.database_url, f"sqlite:///{legacy}"):
        databases = Databases(url)
        try:
            with databases.write.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            database = Path(url.removeprefix("sqlite:///"))
            files = [database, *database.parent.glob(database.name + "-*")]
            assert len(files) >= 2  # the WAL files exist while the engine is open
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        finally:
            databases.dispose()
    token = stored_dev_token(settings.home)
    assert stored_dev_token(settings.home) == token
    assert stat.S_IMODE((settings.home / "dev-token").stat().st_mode) == 0o600

"""`tally admin create-token`, `list-tokens` and `revoke-token` against a real database, and
the API refusing what the command line revoked."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from tests.conftest import make_app
from tests.e2e.test_cli import tally
from tests.support.api import create_person
from tests.support.stack import Stack, wait_until

# What `tally admin` revokes, another process, is refused within the API's token cache's
# seconds: a short one here.
CACHE_SECONDS = 0.2


@pytest.fixture
def client(stack: Stack) -> Iterator[FlaskClient]:
    app = make_app(stack, token_cache_seconds=CACHE_SECONDS)
    yield app.test_client()
    app.extensions["tally"].databases.dispose()


def refused(client: FlaskClient, headers: dict[str, str]) -> bool:
    return client.get("/api/v1/me/tokens", headers=headers).status_code == 401


def test_tokens_from_the_command_line(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    person = create_person(client, admin, "kim@example.com", "member")
    made = tally(
        stack,
        "admin",
        "create-token",
        "--email",
        "KIM@example.com",
        "--name",
        "ci",
        "--expires-in",
        "90d",
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    mine = client.get("/api/v1/me/tokens", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    ci = next(t for t in mine.get_json()["items"] if t["name"] == "ci")
    lifetime = dt.datetime.fromisoformat(ci["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=89) < lifetime <= dt.timedelta(days=90)

    listed = tally(stack, "admin", "list-tokens", "--email", "kim@example.com")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(row["name"] for row in rows) == ["ci", "first token"]
    assert token not in listed.stdout and person["token"] not in listed.stdout

    revoked = tally(stack, "admin", "revoke-token", "--id", ci["id"])
    assert revoked.returncode == 0, revoked.stderr
    wait_until(lambda: refused(client, {"Authorization": f"Bearer {token}"}), timeout=10)
    first = {"Authorization": f"Bearer {person['token']}"}
    assert client.get("/api/v1/me/tokens", headers=first).status_code == 200
    assert tally(stack, "admin", "revoke-token", "--id", ci["id"]).returncode != 0

    everything = tally(stack, "admin", "revoke-token", "--email", "kim@example.com")
    assert everything.returncode == 0 and "revoked 1 tokens" in everything.stdout
    wait_until(lambda: refused(client, first), timeout=10)

    bad = tally(
        stack, "admin", "create-token", "--email", "kim@example.com", "--expires-in", "soon"
    )
    assert bad.returncode != 0 and "--expires-in" in bad.stderr

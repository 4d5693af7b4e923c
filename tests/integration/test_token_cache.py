"""The API's token cache (TALLY_TOKEN_CACHE_SECONDS): a cached token costs no statement; a
token revoked or a person archived in another process is refused within the cache's
seconds, in the process that did it at once; a token's own expiry is honoured exactly."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from api.auth import Caller, TokenCache
from domain.store.tables import api_tokens
from domain.store.tokens import hash_token, issue_token
from tests.conftest import make_app
from tests.support.api import create_person
from tests.support.stack import Stack, wait_until
from tests.support.statements import statements_of

LONG = 60.0  # longer than any of these tests: only an invalidation or an expiry ends an entry
SHORT = 0.2


@pytest.fixture
def apps(stack: Stack) -> Iterator[dict[float, Flask]]:
    """Two API processes' apps on the same databases, one caching tokens for LONG seconds,
    the other for SHORT."""
    made = {seconds: make_app(stack, token_cache_seconds=seconds) for seconds in (LONG, SHORT)}
    yield made
    for app in made.values():
        app.extensions["tally"].databases.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(client: FlaskClient, token: str) -> int:
    return client.get("/api/v1/me/tokens", headers=bearer(token)).status_code


def token_statements(app: Flask, token: str, requests: int) -> int:
    with statements_of(app) as seen:
        for _ in range(requests):
            assert me(app.test_client(), token) == 200
    return sum("api_tokens" in statement and "people" in statement for statement in seen)


@pytest.mark.parametrize(("seconds", "lookups"), [(LONG, 0), (0, 3)])
def test_a_cached_token_is_not_looked_up(
    stack: Stack, admin: dict[str, str], seconds: float, lookups: int
) -> None:
    app = make_app(stack, token_cache_seconds=seconds)
    try:
        ann = create_person(app.test_client(), admin, "ann@example.com", "member")
        assert me(app.test_client(), ann["token"]) == 200
        assert token_statements(app, ann["token"], 3) == lookups
    finally:
        app.extensions["tally"].databases.dispose()


def test_a_revocation_takes_effect_at_once_here_and_within_the_bound_elsewhere(
    apps: dict[float, Flask], admin: dict[str, str]
) -> None:
    here, elsewhere = apps[LONG].test_client(), apps[SHORT].test_client()
    ann = create_person(here, admin, "ann@example.com", "member")
    laptop = here.post(
        f"/api/v1/people/{ann['id']}/tokens", json={"name": "laptop"}, headers=admin
    ).get_json()
    for client in (here, elsewhere):
        assert me(client, ann["token"]) == 200 and me(client, laptop["token"]) == 200

    [first] = [t for t in _tokens(here, ann["token"]) if t["current"]]
    assert (
        here.delete(f"/api/v1/me/tokens/{first['id']}", headers=bearer(ann["token"])).status_code
        == 204
    )
    assert me(here, ann["token"]) == 401
    wait_until(lambda: me(elsewhere, ann["token"]) == 401, timeout=10)

    revoked = elsewhere.delete(f"/api/v1/people/{ann['id']}/tokens/{laptop['id']}", headers=admin)
    assert revoked.status_code == 204
    assert me(elsewhere, laptop["token"]) == 401
    wait_until(lambda: me(apps[SHORT].test_client(), laptop["token"]) == 401, timeout=10)


def _tokens(client: FlaskClient, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/me/tokens", headers=bearer(token)).get_json()[
        "items"
    ]
    return items


def test_an_archived_person_is_refused_at_once_here_and_within_the_bound_elsewhere(
    apps: dict[float, Flask], admin: dict[str, str]
) -> None:
    here, elsewhere = apps[LONG].test_client(), apps[SHORT].test_client()
    ann = create_person(here, admin, "ann@example.com", "member")
    for client in (here, elsewhere):
        assert me(client, ann["token"]) == 200
    archived = here.post(f"/api/v1/people/{ann['id']}/archive", headers=admin)
    assert archived.status_code == 200, archived.get_json()
    assert me(here, ann["token"]) == 401
    wait_until(lambda: me(elsewhere, ann["token"]) == 401, timeout=10)


def test_a_cached_token_is_refused_from_its_expiry_on(
    apps: dict[float, Flask], admin: dict[str, str], stack: Stack
) -> None:
    client = apps[LONG].test_client()
    ann = create_person(client, admin, "ann@example.com", "member")
    with stack.databases.write.begin() as conn:
        short = issue_token(conn, uuid.UUID(ann["id"]), "short", dt.timedelta(seconds=3))
    assert short.expires_at is not None
    assert me(client, short.token) == 200
    time.sleep(max(0.0, short.expires_at.timestamp() - time.time()) + 0.05)
    assert me(client, short.token) == 401
    with stack.databases.write.connect() as conn:  # refused by the cache: it is still stored
        assert conn.execute(select(api_tokens.c.id).where(api_tokens.c.id == short.id)).first()


def test_an_entry_never_outlives_its_tokens_expiry_nor_a_late_lookup() -> None:
    """Without the clock: an entry whose token has expired is not served, however fresh; a
    lookup that read the database before an invalidation stores nothing."""
    cache = TokenCache(LONG)
    caller = Caller(person_id=uuid.uuid4(), role="member", email="a@x", token_id=uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    cache.put(hash_token("a"), caller, now - dt.timedelta(microseconds=1), cache.generation)
    cache.put(hash_token("b"), caller, now + dt.timedelta(hours=1), cache.generation)
    assert cache.get(hash_token("a")) is None
    assert cache.get(hash_token("b")) == caller

    before = cache.generation
    cache.forget_person(caller.person_id)
    assert cache.get(hash_token("b")) is None
    cache.put(hash_token("b"), caller, None, before)
    assert cache.get(hash_token("b")) is None
    assert TokenCache(0).get(hash_token("b")) is None


def test_the_cache_holds_at_most_its_entries() -> None:
    cache = TokenCache(LONG, max_entries=3)
    for n in range(5):
        person = Caller(person_id=uuid.uuid4(), role="member", email="a@x", token_id=uuid.uuid4())
        cache.put(hash_token(str(n)), person, None, cache.generation)
    assert [cache.get(hash_token(str(n))) is not None for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]

"""Fixtures: the two stacks (PostgreSQL + Redis, and the embedded default), apps, workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from tests.support.services import own_database, require_postgres, require_redis
from tests.support.stack import Process, Stack, build_stack, start_worker

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
def postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    database_url = require_postgres()
    broker_url = require_redis()
    stack = build_stack("postgres", database_url, broker_url, tmp_path_factory.mktemp("pg"))
    yield stack
    stack.databases.dispose()


@pytest.fixture(scope="session")
def split_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """PostgreSQL with the read models in a database apart from the write side's, as
    production may run (TALLY_READ_DATABASE_URL)."""
    database_url = require_postgres()
    stack = build_stack(
        "split",
        own_database(database_url, "split_write"),
        require_redis(),
        tmp_path_factory.mktemp("split"),
        read_database_url=own_database(database_url, "split_read"),
    )
    yield stack
    stack.databases.dispose()


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("embedded")
    stack = build_stack("embedded", f"sqlite:///{workdir / 'tally.db'}", "filesystem://", workdir)
    yield stack
    stack.databases.dispose()


@pytest.fixture(params=["postgres", "embedded"])
def stack(request: pytest.FixtureRequest) -> Stack:
    """Each pipeline test runs once per stack."""
    chosen: Stack = request.getfixturevalue(f"{request.param}_stack")
    chosen.reset()
    return chosen


@pytest.fixture
def pg_stack(postgres_stack: Stack) -> Stack:
    postgres_stack.reset()
    return postgres_stack


@pytest.fixture
def sqlite_stack(embedded_stack: Stack) -> Stack:
    embedded_stack.reset()
    return embedded_stack


def make_app(stack: Stack, **overrides: object) -> Flask:
    app = create_app(stack.settings.with_changes(**({"admin_token": ADMIN_TOKEN} | overrides)))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    app = make_app(stack)
    yield app
    app.extensions["tally"].databases.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def worker(stack: Stack) -> Iterator[Process]:
    process = start_worker(stack)
    yield process
    process.stop()


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    return tmp_path

"""Reaching the real PostgreSQL and Redis that the tests use; on CI, absence is a failure."""

from __future__ import annotations

import os

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from domain.store.db import create_database_if_missing, normalize_url

POSTGRES_URL = os.environ.get(
    "TALLY_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TALLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(service: str, error: Exception) -> None:
    message = f"{service} is unreachable: {error}"
    if on_ci():
        pytest.fail(message + " (CI=true: tests never skip for a missing service)")
    pytest.skip(message)


def require_postgres() -> str:
    try:
        engine = create_engine(normalize_url(POSTGRES_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        unavailable("PostgreSQL", error)
    return POSTGRES_URL


def require_redis() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:
        unavailable("Redis", error)
    return REDIS_URL


def own_database(url: str, suffix: str) -> str:
    """A PostgreSQL database of the tests' own beside the one at url, created when missing."""
    parsed = make_url(url)
    own = parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(hide_password=False)
    create_database_if_missing(own)
    return own

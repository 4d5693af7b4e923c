"""Bearer tokens: stored hashed, each belonging to a person and carrying their role.

Every request looks its token up in the database (no cache), so a revoked or expired token
is refused from the next request on.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from flask import g, request
from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.exc import OperationalError

from api.errors import Problem
from domain import access
from domain.store import tables
from domain.store.db import SQLITE_BUSY_TIMEOUT_MS, as_utc, is_sqlite, set_sqlite_busy_timeout
from domain.store.tokens import hash_token

log = logging.getLogger(__name__)

# last_used_at is written at most this often per token: a write on every request would cost
# a round trip each (and, on SQLite, the write lock).
LAST_USED_PRECISION = dt.timedelta(minutes=1)
LAST_USED_LOCK_WAIT_MS = 100


@dataclass(frozen=True)
class Caller(access.Caller):
    """The request's caller: the person its token belongs to, whom commands act for."""

    email: str
    token_id: uuid.UUID


# Built once: every request runs it. An archived person's tokens are refused.
tokens, people = tables.api_tokens, tables.people
CALLER_BY_TOKEN = (
    select(
        people.c.id,
        people.c.role,
        people.c.email,
        tokens.c.id.label("token_id"),
        tokens.c.expires_at,
        tokens.c.last_used_at,
    )
    .join(tokens, tokens.c.person_id == people.c.id)
    .where(tokens.c.token_hash == bindparam("token_hash"), people.c.archived.is_(False))
)
TOUCH_TOKEN = (
    update(tokens).where(tokens.c.id == bindparam("token_id")).values(last_used_at=bindparam("now"))
)


def find_caller(engine: Engine, token: str) -> Caller | None:
    """The token's owner, if the token exists and has not expired. `engine` should be an
    autocommit one: a single read needs no BEGIN and ROLLBACK round trips (nor, on SQLite,
    the write lock every BEGIN takes)."""
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        row = conn.execute(CALLER_BY_TOKEN, {"token_hash": hash_token(token)}).one_or_none()
        if row is None:
            return None
        expires_at = as_utc(row.expires_at)
        if expires_at is not None and expires_at <= now:
            return None
        last_used = as_utc(row.last_used_at)
        if last_used is None or last_used <= now - LAST_USED_PRECISION:
            _touch(conn, row.token_id, now)
    return Caller(person_id=row.id, role=row.role, email=row.email, token_id=row.token_id)


def _touch(conn: Connection, token_id: uuid.UUID, now: dt.datetime) -> None:
    """Record the use; informational, so a busy embedded database skips it rather than wait."""
    sqlite = is_sqlite(conn.engine)
    if sqlite:
        set_sqlite_busy_timeout(conn, LAST_USED_LOCK_WAIT_MS)
    try:
        conn.execute(TOUCH_TOKEN, {"token_id": token_id, "now": now})
    except OperationalError as error:
        log.info("token use not recorded: %s", str(error).splitlines()[0])
    finally:
        if sqlite:
            set_sqlite_busy_timeout(conn, SQLITE_BUSY_TIMEOUT_MS)


def authenticate(engine: Engine) -> None:
    """Set g.caller from the Authorization header, or refuse the request with 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "Send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="tally"'},
        )
    caller = find_caller(engine, token.strip())
    if caller is None:
        raise Problem(
            401,
            "The token is not valid (unknown, revoked or expired).",
            headers={"WWW-Authenticate": 'Bearer realm="tally", error="invalid_token"'},
        )
    g.caller = caller


def current_caller() -> Caller:
    caller: Caller = g.caller
    return caller


def require_role(*roles: str) -> Caller:
    caller = current_caller()
    if caller.role not in roles:
        raise Problem(403, f"This needs the role {' or '.join(roles)}.")
    return caller

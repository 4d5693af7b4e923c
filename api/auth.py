"""Bearer tokens: stored hashed, each belonging to a person and carrying their role.

Every request looks its token up in the database (no cache), so a revoked or expired token
is refused from the next request on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import g, request
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from api.errors import Problem
from domain import access
from domain.store import tables
from domain.store.db import SQLITE_BUSY_TIMEOUT_MS, as_utc, is_sqlite, set_sqlite_busy_timeout

log = logging.getLogger(__name__)

ENVIRONMENT_TOKEN_NAME = "TALLY_ADMIN_TOKEN"
DEV_TOKEN_FILE = "dev-token"
# last_used_at is written at most this often per token: a write on every request would cost
# a round trip each (and, on SQLite, the write lock).
LAST_USED_PRECISION = dt.timedelta(minutes=1)
LAST_USED_LOCK_WAIT_MS = 100
DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Caller(access.Caller):
    """The request's caller: the person its token belongs to, whom commands act for."""

    email: str
    token_id: uuid.UUID


@dataclass(frozen=True)
class IssuedToken:
    id: uuid.UUID
    token: str
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


def new_token() -> str:
    return "tly_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_duration(text: str) -> dt.timedelta:
    """'90d', '12h', '30m' or '2w'."""
    match = DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"not a duration: {text!r} (say 90d, 12h, 30m or 2w)")
    return dt.timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


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


def issue_token(
    conn: Connection, person_id: uuid.UUID, name: str, expires_in: dt.timedelta | None = None
) -> IssuedToken:
    """A new token for the person; only its hash is stored, the token is shown once."""
    now = dt.datetime.now(dt.UTC)
    issued = IssuedToken(
        id=uuid.uuid4(),
        token=new_token(),
        name=name,
        created_at=now,
        expires_at=now + expires_in if expires_in else None,
    )
    conn.execute(
        insert(tokens).values(
            id=issued.id,
            token_hash=hash_token(issued.token),
            person_id=person_id,
            name=name,
            created_at=now,
            expires_at=issued.expires_at,
        )
    )
    return issued


TOKEN_COLUMNS = (
    tokens.c.id,
    tokens.c.name,
    tokens.c.created_at,
    tokens.c.last_used_at,
    tokens.c.expires_at,
)


def list_tokens(engine: Engine, person_id: uuid.UUID) -> list[dict[str, Any]]:
    """The person's tokens, oldest first, without their hashes."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(*TOKEN_COLUMNS)
            .where(tokens.c.person_id == person_id)
            .order_by(tokens.c.created_at, tokens.c.id)
        )
        return [
            {
                "id": row.id,
                "name": row.name,
                "created_at": as_utc(row.created_at),
                "last_used_at": as_utc(row.last_used_at),
                "expires_at": as_utc(row.expires_at),
            }
            for row in rows
        ]


def revoke_token(engine: Engine, token_id: uuid.UUID, person_id: uuid.UUID | None) -> bool:
    """Delete the token (only if it is that person's, when one is named); False if none."""
    condition = tokens.c.id == token_id
    if person_id is not None:
        condition = condition & (tokens.c.person_id == person_id)
    with engine.begin() as conn:
        return bool(conn.execute(delete(tokens).where(condition)).rowcount)


def revoke_all_tokens(engine: Engine, person_id: uuid.UUID) -> int:
    with engine.begin() as conn:
        return int(conn.execute(delete(tokens).where(tokens.c.person_id == person_id)).rowcount)


def install_environment_token(engine: Engine, person_id: uuid.UUID, token: str) -> bool:
    """Make `token` the person's one TALLY_ADMIN_TOKEN token: a changed variable replaces the
    token it made before, which stops working. True when anything changed."""
    token_hash = hash_token(token)
    try:
        with engine.begin() as conn:
            if conn.execute(select(tokens.c.id).where(tokens.c.token_hash == token_hash)).first():
                return False
            conn.execute(
                delete(tokens).where(
                    tokens.c.person_id == person_id, tokens.c.name == ENVIRONMENT_TOKEN_NAME
                )
            )
            conn.execute(
                insert(tokens).values(
                    id=uuid.uuid4(),
                    token_hash=token_hash,
                    person_id=person_id,
                    name=ENVIRONMENT_TOKEN_NAME,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
        return True
    except IntegrityError:
        return False  # another API process installed it at the same moment


def stored_dev_token(home: Path) -> str:
    """`tally dev`'s admin token, kept in `.tally/dev-token` (owner-only) so that every start
    prints the same one instead of minting another."""
    path = home / DEV_TOKEN_FILE
    if path.exists():
        path.chmod(0o600)
        token = path.read_text().strip()
        if token:
            return token
    token = new_token()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    return token

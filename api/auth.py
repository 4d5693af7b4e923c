"""Bearer tokens: stored hashed, each belonging to a person and carrying their role."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from flask import g, request
from sqlalchemy import Engine, bindparam, select

from api.errors import Problem
from domain.store import tables


@dataclass(frozen=True)
class Caller:
    person_id: uuid.UUID
    role: str
    email: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def new_token() -> str:
    return "tly_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Built once: every request runs it. An archived person's tokens are refused.
CALLER_BY_TOKEN = (
    select(tables.people.c.id, tables.people.c.role, tables.people.c.email)
    .join(tables.api_tokens, tables.api_tokens.c.person_id == tables.people.c.id)
    .where(
        tables.api_tokens.c.token_hash == bindparam("token_hash"),
        tables.people.c.archived.is_(False),
    )
)


def find_caller(engine: Engine, token: str) -> Caller | None:
    """The token's owner. `engine` should be an autocommit one: a single read needs no
    BEGIN and ROLLBACK round trips (nor, on SQLite, the write lock every BEGIN takes)."""
    with engine.connect() as conn:
        row = conn.execute(CALLER_BY_TOKEN, {"token_hash": hash_token(token)}).one_or_none()
    return None if row is None else Caller(person_id=row.id, role=row.role, email=row.email)


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
            "The token is not valid.",
            headers={"WWW-Authenticate": 'Bearer realm="tally", error="invalid_token"'},
        )
    g.caller = caller


def current_caller() -> Caller:
    return g.caller  # type: ignore[no-any-return]


def require_role(*roles: str) -> Caller:
    caller = current_caller()
    if caller.role not in roles:
        raise Problem(403, f"This needs the role {' or '.join(roles)}.")
    return caller

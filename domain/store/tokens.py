"""API tokens at rest: only a token's SHA-256 is stored; the token itself is shown once."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from domain.store import tables
from domain.store.db import as_utc

# The first admin, registered from TALLY_ADMIN_TOKEN, and the name of the token it installs.
ADMIN_EMAIL = "admin@tally.local"
ENVIRONMENT_TOKEN_NAME = "TALLY_ADMIN_TOKEN"
DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

tokens = tables.api_tokens


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

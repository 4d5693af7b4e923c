"""Bearer tokens: stored hashed, each belonging to a person and carrying their role.

A token found in the database is kept in the process's cache, keyed by its hash, for
TALLY_TOKEN_CACHE_SECONDS (0: no cache, every request looks it up). So a token revoked, or a
person archived, elsewhere (another API process, `tally admin`) is refused within that many
seconds; in the process that revoked or archived, from the next request on, as is a token
past its expiry, which a cached entry never outlives.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
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


@dataclass(frozen=True)
class _Cached:
    caller: Caller
    fresh_until: float  # time.monotonic()
    expires_at: float | None  # the token's own expiry, time.time()


class TokenCache:
    """Callers by token hash, each for `seconds` at most and never past its token's expiry,
    `max_entries` at most. Every invalidation bumps a generation: a lookup that read the
    database before it does not store what it read, which may be what was just revoked."""

    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def get(self, token_hash: str) -> Caller | None:
        entry = self._entries.get(token_hash)
        if entry is None or time.monotonic() >= entry.fresh_until:
            return None
        if entry.expires_at is not None and time.time() >= entry.expires_at:
            return None
        return entry.caller

    @property
    def generation(self) -> int:
        return self._generation

    def put(
        self, token_hash: str, caller: Caller, expires_at: dt.datetime | None, generation: int
    ) -> None:
        if self.seconds <= 0:
            return
        entry = _Cached(
            caller,
            time.monotonic() + self.seconds,
            None if expires_at is None else expires_at.timestamp(),
        )
        with self._lock:
            if generation != self._generation:
                return
            if token_hash not in self._entries and len(self._entries) >= self.max_entries:
                self._make_room()
            self._entries[token_hash] = entry

    def _make_room(self) -> None:
        """Drop the stale entries; if none was, the oldest one."""
        now = time.monotonic()
        stale = [key for key, entry in self._entries.items() if entry.fresh_until <= now]
        for key in stale or [next(iter(self._entries))]:
            del self._entries[key]

    def forget_token(self, token_id: uuid.UUID) -> None:
        self._forget(lambda caller: caller.token_id == token_id)

    def forget_person(self, person_id: uuid.UUID) -> None:
        self._forget(lambda caller: caller.person_id == person_id)

    def _forget(self, matches: Callable[[Caller], bool]) -> None:
        with self._lock:
            self._generation += 1
            for key in [key for key, entry in self._entries.items() if matches(entry.caller)]:
                del self._entries[key]


NO_CACHE = TokenCache(0)


def find_caller(engine: Engine, token: str, cache: TokenCache = NO_CACHE) -> Caller | None:
    """The token's owner, if the token exists and has not expired: from the cache, else from
    the database (then cached). `engine` should be an autocommit one: a single read needs no
    BEGIN and ROLLBACK round trips (nor, on SQLite, the write lock every BEGIN takes)."""
    token_hash = hash_token(token)
    cached = cache.get(token_hash)
    if cached is not None:
        return cached
    generation = cache.generation
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        row = conn.execute(CALLER_BY_TOKEN, {"token_hash": token_hash}).one_or_none()
        if row is None:
            return None
        expires_at = as_utc(row.expires_at)
        if expires_at is not None and expires_at <= now:
            return None
        last_used = as_utc(row.last_used_at)
        if last_used is None or last_used <= now - LAST_USED_PRECISION:
            _touch(conn, row.token_id, now)
    caller = Caller(person_id=row.id, role=row.role, email=row.email, token_id=row.token_id)
    cache.put(token_hash, caller, expires_at, generation)
    return caller


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


def authenticate(engine: Engine, cache: TokenCache) -> None:
    """Set g.caller from the Authorization header, or refuse the request with 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "Send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="tally"'},
        )
    caller = find_caller(engine, token.strip(), cache)
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

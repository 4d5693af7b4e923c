"""Idempotency-Key on POST: replay the stored response; refuse a different request, and a
retry while the first request is still running (both 409: the key's state conflicts). Keys
live in the write database, so every API process sees them, and are kept 24 hours: an older
key is a new claim, whether or not beat's hourly purge has deleted it yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.auth import current_caller
from api.errors import Problem
from domain.store.db import as_utc
from domain.store.idempotency import KEEP_FOR
from domain.store.tables import idempotency_keys

# A claim older than this without a response belongs to a request that died mid-way.
ABANDONED_AFTER = dt.timedelta(minutes=5)
REPLAYED_HEADERS = ("ETag", "Location")
# Fields never kept for a replay: a secret is shown once. A replay answers the first
# response without them (and says which it left out in Idempotent-Withheld).
SECRET_FIELDS = ("token",)
RUNNING = "A request with this Idempotency-Key is still running."


def _request_hash() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data())
    return digest.hexdigest()


def claim(engine: Engine) -> Response | None:
    """Claim the key for this request, or answer from what the first request stored."""
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method != "POST":
        return None
    if not 1 <= len(key) <= 255:
        raise Problem(
            422,
            "Idempotency-Key is 1 to 255 characters.",
            errors={"Idempotency-Key": ["1 to 255 characters."]},
        )
    caller = current_caller()
    now = dt.datetime.now(dt.UTC)
    fingerprint = _request_hash()
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(idempotency_keys).values(
                    caller_id=caller.person_id, key=key, request_hash=fingerprint, created_at=now
                )
            )
        g.idempotency_key = key
        return None
    except IntegrityError:
        pass
    with engine.begin() as conn:
        stored = conn.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.caller_id == caller.person_id, idempotency_keys.c.key == key
            )
        ).one()
        claimed_at = as_utc(stored.created_at)
        assert claimed_at is not None
        if claimed_at <= now - KEEP_FOR:
            _take_over(conn, stored, fingerprint, now)
            return None
        if stored.request_hash != fingerprint:
            raise Problem(
                409,
                "This Idempotency-Key was used with a different request.",
                errors={"Idempotency-Key": ["Reused with a different body."]},
            )
        if stored.status_code is None:
            if claimed_at > now - ABANDONED_AFTER:
                raise Problem(409, RUNNING)
            _take_over(conn, stored, fingerprint, now)
            return None
    body = stored.response_body
    response = Response(
        json.dumps(body["body"]), status=stored.status_code, mimetype=body["mimetype"]
    )
    for name, value in body["headers"].items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    if body.get("withheld"):
        response.headers["Idempotent-Withheld"] = ", ".join(body["withheld"])
    return response


def _take_over(conn: Connection, stored: Row[Any], fingerprint: str, now: dt.datetime) -> None:
    """Claim a stored key anew for this request: it expired, or its request died mid-way.
    Only if nobody claimed it since it was read: two retries racing for it must not both run."""
    claimed = conn.execute(
        update(idempotency_keys)
        .where(
            idempotency_keys.c.caller_id == stored.caller_id,
            idempotency_keys.c.key == stored.key,
            idempotency_keys.c.created_at == stored.created_at,
        )
        .values(request_hash=fingerprint, created_at=now, status_code=None, response_body=None)
    )
    if claimed.rowcount != 1:
        raise Problem(409, RUNNING)
    g.idempotency_key = stored.key


def store(engine: Engine, response: Response) -> Response:
    """Keep the response for replay; a 5xx releases the key so that a retry runs again."""
    key = g.pop("idempotency_key", None)
    if key is None:
        return response
    where = (
        idempotency_keys.c.caller_id == current_caller().person_id,
        idempotency_keys.c.key == key,
    )
    with engine.begin() as conn:
        if response.status_code >= 500:
            conn.execute(delete(idempotency_keys).where(*where))
            return response
        body = response.get_json(silent=True)
        withheld = [name for name in SECRET_FIELDS if isinstance(body, dict) and name in body]
        stored = {
            "body": {k: v for k, v in body.items() if k not in withheld} if withheld else body,
            "withheld": withheld,
            "mimetype": response.mimetype,
            "headers": {n: response.headers[n] for n in REPLAYED_HEADERS if n in response.headers},
        }
        conn.execute(
            update(idempotency_keys)
            .where(*where)
            .values(status_code=response.status_code, response_body=stored)
        )
    return response


def install(app: Flask, engine: Engine) -> None:
    app.after_request(lambda response: store(engine, response))

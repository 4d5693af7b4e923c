"""Idempotency-Key on POST: replay the stored response, refuse a different body (422), and
refuse a retry while the first request is still running (409). Keys live in the write
database, so every API process sees them, and are kept 24 hours.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from flask import Flask, Response, g, request
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.auth import current_caller
from api.errors import Problem
from domain.store.db import as_utc
from domain.store.tables import idempotency_keys

KEEP_FOR = dt.timedelta(hours=24)
# A claim older than this without a response belongs to a request that died mid-way.
ABANDONED_AFTER = dt.timedelta(minutes=5)
REPLAYED_HEADERS = ("ETag", "Location")


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
        raise Problem(400, "Idempotency-Key is 1 to 255 characters.")
    caller = current_caller()
    now = dt.datetime.now(dt.UTC)
    fingerprint = _request_hash()
    with engine.begin() as conn:
        conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < now - KEEP_FOR))
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
        if stored.request_hash != fingerprint:
            raise Problem(
                422,
                "This Idempotency-Key was used with a different request.",
                errors={"Idempotency-Key": ["Reused with a different body."]},
            )
        if stored.status_code is None:
            if as_utc(stored.created_at) > now - ABANDONED_AFTER:  # type: ignore[operator]
                raise Problem(409, "A request with this Idempotency-Key is still running.")
            conn.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.caller_id == caller.person_id, idempotency_keys.c.key == key
                )
                .values(created_at=now)
            )
            g.idempotency_key = key
            return None
    body = stored.response_body
    response = Response(
        json.dumps(body["body"]), status=stored.status_code, mimetype=body["mimetype"]
    )
    for name, value in body["headers"].items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


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
        stored = {
            "body": response.get_json(silent=True),
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

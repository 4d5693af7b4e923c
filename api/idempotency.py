"""Idempotency-Key on POST: replay the stored response; refuse a different request, and a
retry while the first request is still running (both 409: the key's state conflicts). The
keys live in the write database (domain/store/idempotency.py), so every API process sees
them; this module reads the header and shapes the answers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from flask import Flask, Response, g, request

from api.auth import current_caller
from api.errors import Problem
from domain.store.idempotency import IdempotencyKeys, KeptResponse, KeyReused, KeyRunning

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


def _key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method != "POST":
        return None
    if not 1 <= len(key) <= 255:
        raise Problem(
            422,
            "Idempotency-Key is 1 to 255 characters.",
            errors={"Idempotency-Key": ["1 to 255 characters."]},
        )
    return key


def claim(keys: IdempotencyKeys) -> Response | None:
    """Claim the key for this request, or answer from what the first request stored."""
    key = _key()
    if key is None:
        return None
    now = dt.datetime.now(dt.UTC)
    try:
        kept = keys.claim(current_caller().person_id, key, _request_hash(), now)
    except KeyReused:
        raise Problem(
            409,
            "This Idempotency-Key was used with a different request.",
            errors={"Idempotency-Key": ["Reused with a different body."]},
        ) from None
    except KeyRunning:
        raise Problem(409, RUNNING) from None
    if kept is None:
        g.idempotency_key = key
        return None
    return _replay(kept)


def _replay(kept: KeptResponse) -> Response:
    body = kept.body
    response = Response(
        json.dumps(body["body"]), status=kept.status_code, mimetype=body["mimetype"]
    )
    for name, value in body["headers"].items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    if body.get("withheld"):
        response.headers["Idempotent-Withheld"] = ", ".join(body["withheld"])
    return response


def store(keys: IdempotencyKeys, response: Response) -> Response:
    """Keep the response for replay; a 5xx releases the key so that a retry runs again."""
    key = g.pop("idempotency_key", None)
    if key is None:
        return response
    caller_id = current_caller().person_id
    if response.status_code >= 500:
        keys.release(caller_id, key)
        return response
    body = response.get_json(silent=True)
    withheld: list[str] = []
    if isinstance(body, dict):
        withheld = [name for name in SECRET_FIELDS if name in body]
        body = {k: v for k, v in body.items() if k not in withheld}
    kept = {
        "body": body,
        "withheld": withheld,
        "mimetype": response.mimetype,
        "headers": {n: response.headers[n] for n in REPLAYED_HEADERS if n in response.headers},
    }
    keys.keep(caller_id, key, KeptResponse(response.status_code, kept))
    return response


def install(app: Flask, keys: IdempotencyKeys) -> None:
    app.after_request(lambda response: store(keys, response))

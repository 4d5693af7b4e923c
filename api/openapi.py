"""The OpenAPI document tells the truth about errors and headers: every operation lists each
status it can answer, errors are application/problem+json (RFC 9457), and the headers a
client needs (ETag, If-Match, Idempotency-Key, X-Projection-Position, Retry-After) are in it.

Statuses that follow from an operation's shape are added here once (a body can be 400, 413,
415 or 422; a path parameter 404; anything under /api/v1 401 or 503); a view declares the
rest with `problems(...)`, `guard(...)` or `checked_first(...)`."""

from __future__ import annotations

import functools
import http
from collections.abc import Callable
from typing import Any

from apispec import BasePlugin
from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException

from api.auth import require_role
from api.errors import Problem

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/v1"


class ProblemSchema(Schema):
    """An error (RFC 9457)."""

    type = fields.String(
        required=True, metadata={"description": "A URI naming the kind of problem."}
    )
    title = fields.String(required=True, metadata={"example": "Validation failed"})
    status = fields.Integer(required=True, validate=validate.Range(min=400, max=599))
    detail = fields.String(required=True, metadata={"example": "The request has invalid fields."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Per field or parameter (a dotted path into the body), its messages.",
            "example": {"hours": ["Hours are more than 0 and at most 24."]},
        },
    )
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "GET /ready only: each dependency and what it answered."},
    )
    head = fields.Integer(
        metadata={
            "description": "A `min_position` beyond the event log's head only (409): the head."
        }
    )


DESCRIPTIONS = {
    400: "The body is not readable JSON (syntax, encoding, nesting deeper than 1,024 levels, "
    "or a number beyond a double).",
    401: "No bearer token, or one that is not valid.",
    403: "The caller's role (or relation to the object) does not allow this.",
    404: "No such object, or one the caller may not see; also an id in the body that names no "
    "object (`errors` names the field).",
    405: "The path does not take this method (see Allow).",
    409: "The request is valid by this document but the state refuses it (a closed project, an "
    "approved entry, a duplicate email, a manager_id naming a member, an end before the "
    "start), or its Idempotency-Key was used with another request or is still running.",
    412: "If-Match names a version that is no longer current.",
    413: "The body is over 1 MiB.",
    415: "A body that is not application/json.",
    422: "A body field, query parameter or header breaks this document's rules (type, range, "
    "enum, length, pattern, an unknown name, a cursor this API did not hand out); `errors` "
    "names each.",
    503: "A database did not answer, or the read model did not reach `min_position` in time.",
}

RETRY_AFTER = {
    "description": "Seconds to wait before trying again (sent with a min_position timeout).",
    "schema": {"type": "integer", "minimum": 0},
}
ETAG = {
    "description": 'The object\'s version, as an ETag ("3"): send it back in If-Match.',
    "schema": {"type": "string", "pattern": r'^"\d+"$'},
    "required": True,
}
PROJECTION_POSITION = {
    "description": "The event-log position the read model had reached when it answered.",
    "schema": {"type": "integer", "minimum": 0},
    "required": True,
}
# A version, quoted as an ETag or bare, weak or not; `*` is any version.
IF_MATCH_PATTERN = r'^(\*|(W/)?("\d{1,18}"|\d{1,18}))$'
REPLAYED = {
    "description": "`true` on the stored answer to a retry with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The version the change expects ("3", from ETag); `*` or absent: any.',
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A key unique to this request (a UUID, say). A retry with the same key and "
    "body gets the first answer again; the same key with another request, or while the first "
    "is still running, is a 409. Keys are kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


QUERY_TAGS = {"queries", "lookups"}


class ProblemsPlugin(BasePlugin):
    """Adds to every operation the statuses and headers its shape implies, and to a schema
    what marshmallow cannot say (a class attribute OPENAPI, like {"minProperties": 1} or an
    example)."""

    def schema_helper(
        self, name: str, definition: dict[str, Any], schema: Any = None, **_: Any
    ) -> dict[str, Any]:
        schema_class = schema if isinstance(schema, type) else type(schema)
        return dict(getattr(schema_class, "OPENAPI", {}))

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            _complete(path or "", method, operation)


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[Any, Any] = operation.setdefault("responses", {})
    statuses = {int(code) for code in responses if str(code).isdigit()}
    implied: set[int] = set()
    tags = operation.get("tags") or []
    query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    if path.startswith(API_PREFIX):
        implied |= {401, 503}
    if "{" in path:
        implied.add(404)
    if "requestBody" in operation:
        implied |= {400, 413, 415, 422}
    if query:
        implied.add(422)
    if path.startswith(API_PREFIX) and method == "post":
        implied |= {409, 422}
        operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
    if 412 in statuses:
        implied.add(422)
        operation.setdefault("parameters", []).append(dict(IF_MATCH))
    for status in sorted(implied - statuses):
        responses[status] = http.HTTPStatus(status).name
    for code, response in responses.items():
        if not (str(code).startswith("2") and isinstance(response, dict)):
            continue
        headers = response.setdefault("headers", {})
        if "commands" in tags:
            headers["ETag"] = ETAG
        if path.startswith(API_PREFIX) and method == "post":
            headers["Idempotent-Replayed"] = REPLAYED
        if QUERY_TAGS & set(tags):
            headers["X-Projection-Position"] = PROJECTION_POSITION


def problem_responses(spec: Any) -> None:
    """Register the shared error responses: problem+json, with Allow, WWW-Authenticate and
    Retry-After where they come."""
    schema = {"$ref": "#/components/schemas/Problem"}
    for status in http.HTTPStatus:
        if status < 400:
            continue
        response: dict[str, Any] = {
            "description": DESCRIPTIONS.get(status, status.phrase),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        if status == 401:
            response["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string"}, "required": True}
            }
        if status == 405:
            response["headers"] = {"Allow": {"schema": {"type": "string"}, "required": True}}
        if status == 503:
            response["headers"] = {"Retry-After": RETRY_AFTER}
        spec.components.response(status.name, response, lazy=True)


def problems(*statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document statuses an operation answers beyond those its shape implies."""
    document: Callable[[Callable[..., Any]], Callable[..., Any]] = Blueprint.doc(
        responses={status: http.HTTPStatus(status).name for status in statuses}
    )
    return document


def guard(
    check: Callable[..., object], *statuses: int
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run `check(**path_parameters)` before the body and query are validated, so that a
    caller who may not do this learns that first (403 or 404, never a 422 about a body they
    could not send anyway). Place it right under the route."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(**(request.view_args or {}))
            return func(*args, **kwargs)

        return problems(*statuses)(wrapper)

    return decorator


def checked_first(
    check: Callable[..., object], *statuses: int
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The command checks its caller against the object it loads, in its unit of work. A
    request refused before its command runs (its body, query or If-Match) runs
    `check(**path_parameters)` first, so that a caller who may not do this learns that (403 or
    404), never a 422 about a body they could not send anyway. Place it right under the route."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except (HTTPException, Problem):
                check(**(request.view_args or {}))
                raise

        return problems(*statuses)(wrapper)

    return decorator


def roles(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Only callers with one of these roles; the others get 403 before any validation."""
    return guard(lambda **_: require_role(*names), 403)


def csv_also(func: Callable[..., Any]) -> Callable[..., Any]:
    """The 200 answer also comes as CSV (`Accept: text/csv`; api/csv_export.py)."""
    csv_answer = {
        "description": "The items; with `Accept: text/csv`, every row of the range as CSV "
        "(a header row, ISO dates, amounts as decimals, UTF-8), not paged.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
    documented: Callable[..., Any] = Blueprint.doc(responses={200: csv_answer})(func)
    return documented

"""Errors as application/problem+json (RFC 9457), never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from domain import errors

log = logging.getLogger(__name__)

PROBLEM_TYPES = "https://tally.example/problems/"


class Problem(Exception):
    """An error response that a view raises."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Validation failed",
    431: "Request header fields too large",
    500: "Internal server error",
    503: "Service unavailable",
}

TYPE_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    422: "validation-error",
    431: "header-fields-too-large",
    500: "internal-error",
    503: "unavailable",
}


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    type_slug: str | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPES + (type_slug or TYPE_SLUGS.get(status, str(status))),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    body |= extra or {}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_messages(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {...}}); clients want {field: [...]}."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "view_args"}:
        merged: dict[str, Any] = {}
        for part in messages.values():
            merged.update(part if isinstance(part, dict) else {"_schema": part})
        messages = merged
    if isinstance(messages, list):
        return {"_schema": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for field, value in (messages or {}).items():
        if isinstance(value, dict):
            for sub_field, sub_value in _flatten_messages(value).items():
                flat[f"{field}.{sub_field}"] = sub_value
        else:
            flat[str(field)] = [str(m) for m in (value if isinstance(value, list) else [value])]
    return flat


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {name: value for name, value in error.get_headers() if name.lower() == "allow"}
    data = getattr(error, "data", None)
    if status in (400, 422) and data and "messages" in data:
        messages = data["messages"]
        fields = _flatten_messages(messages)
        if status == 400:
            return problem_response(400, "The request could not be parsed.", errors=fields)
        return problem_response(422, "The request has invalid fields.", errors=fields)
    detail = error.description or TITLES.get(status, "Error")
    return problem_response(status, detail, headers=headers)


# Each domain error's answer: its status, title and type (None: the status's own).
# A 422 means the document's own rules refuse the request. A request the document allows
# but the state refuses is a 404 when it names an object that does not exist, else a 409
# (docs/decisions.md, "400, 404, 409 or 422").
DOMAIN_ERRORS: dict[type[errors.DomainError], tuple[int, str | None, str | None]] = {
    errors.NotFound: (404, None, None),
    errors.InvalidReference: (404, None, None),
    errors.ValidationFailed: (409, None, None),
    errors.StaleVersion: (412, None, None),
    errors.Conflict: (409, None, None),
    errors.Forbidden: (403, None, None),
    errors.OwnTimeReview: (403, "Own time", "own-time-review"),
    errors.PeriodLocked: (409, "Period locked", "period-locked"),
    errors.DomainError: (409, None, None),
}


def domain_problem(error: errors.DomainError) -> Response:
    """The answer of the most specific class in DOMAIN_ERRORS the error is an instance of."""
    kind = next(k for k in type(error).__mro__ if k in DOMAIN_ERRORS)
    status, title, type_slug = DOMAIN_ERRORS[kind]
    field = getattr(error, "field", None) if isinstance(error, errors.ValidationFailed) else None
    return problem_response(
        status,
        str(error),
        title=title,
        type_slug=type_slug,
        errors=None if field is None else {field: [str(error)]},
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return problem_response(
            error.status,
            error.detail,
            title=error.title,
            errors=error.errors,
            headers=error.headers,
            extra=error.extra,
        )

    app.register_error_handler(errors.DomainError, domain_problem)

    @app.errorhandler(OperationalError)
    def _database_down(error: OperationalError) -> Response:
        log.error("database unavailable: %s", str(error).splitlines()[0])
        return problem_response(503, "The database is unavailable; try again shortly.")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return handle_http_exception(error)
        log.exception("unhandled error")
        return problem_response(500, "An unexpected error occurred.")

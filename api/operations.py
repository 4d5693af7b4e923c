"""Operations: health, readiness, and the projections (status, rebuild, parked events)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import text

from api.auth import current_caller
from api.errors import Problem, problem_response
from api.fields import UtcDateTime
from api.openapi import problems, roles
from api.parsing import Blueprint
from api.runtime import runtime
from api.schemas import BodySchema, QuerySchema
from domain.model import Role
from readmodels import audit, parking
from readmodels.drift import verify_and_record
from readmodels.registry import PROJECTIONS
from readmodels.status import projection_status
from readmodels.verify import CHECKS

log = logging.getLogger(__name__)

health_blp = Blueprint("health", __name__, description="Liveness and readiness probes.")
blp = Blueprint("operations", __name__, description="Projection operations (admin).")


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


class ProjectionStatusSchema(Schema):
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    checkpoint = fields.Integer(required=True)
    head = fields.Integer(required=True)
    lag_events = fields.Integer(required=True)
    lag_seconds = fields.Float(required=True)
    status = fields.String(required=True)
    parked = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)


class ProjectionStatusListSchema(Schema):
    items = fields.List(fields.Nested(ProjectionStatusSchema), required=True)


class ParkedEventSchema(Schema):
    projection = fields.String(required=True)
    position = fields.Integer(required=True)
    event_key = fields.String(required=True)
    event_type = fields.String(required=True)
    error = fields.String(required=True)
    parked_at = UtcDateTime(required=True)


class ParkedListSchema(Schema):
    items = fields.List(fields.Nested(ParkedEventSchema), required=True)


class ParkedActionSchema(BodySchema):
    key = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "Only this key's events (default: all)."},
    )


class RetryResultSchema(Schema):
    applied = fields.List(fields.Integer(), required=True)
    still_parked = fields.Integer(required=True)
    failed_keys = fields.List(fields.String(), required=True)


class SkipResultSchema(Schema):
    skipped = fields.List(fields.Integer(), required=True)


class VerifyRequestSchema(BodySchema):
    projection = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(sorted(CHECKS)),
        metadata={"description": "Only this projection (default: all)."},
    )


class VerificationSchema(Schema):
    projection = fields.String(required=True)
    drift_rows = fields.Integer(required=True)
    missing = fields.Integer(required=True)
    extra = fields.Integer(required=True)
    differing = fields.Integer(required=True)
    verified_at = UtcDateTime(required=True)
    seconds = fields.Float(required=True)


class VerificationListSchema(Schema):
    items = fields.List(fields.Nested(VerificationSchema), required=True)


class OperatorActionQuerySchema(QuerySchema):
    projection = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class OperatorActionSchema(Schema):
    id = fields.Integer(required=True)
    projection = fields.String(required=True)
    action = fields.String(required=True)
    actor = fields.String(required=True)
    detail = fields.Dict(required=True)
    at = UtcDateTime(required=True)


class OperatorActionListSchema(Schema):
    items = fields.List(fields.Nested(OperatorActionSchema), required=True)


class RebuildAcceptedSchema(Schema):
    projection = fields.String(required=True)
    status = fields.String(required=True)


@health_blp.route("/health", methods=["GET"])
@health_blp.response(200, HealthSchema)
@health_blp.doc(security=[])
def health() -> dict[str, str]:
    """200 while the process is up."""
    return {"status": "ok"}


@health_blp.route("/ready", methods=["GET"])
@health_blp.response(200, HealthSchema)
@health_blp.alt_response(503, description="A dependency did not answer.")
@health_blp.doc(security=[])
def ready() -> Any:
    """200 when the databases and the broker answer, else 503 naming what failed."""
    rt = runtime()
    checks: dict[str, str] = {}
    for name, db_engine in (
        ("database", rt.databases.write_autocommit),
        ("read_database", rt.databases.read_autocommit),
    ):
        try:
            with db_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks[name] = "ok"
        except Exception:
            log.warning("readiness: the %s did not answer", name, exc_info=True)
            checks[name] = "failed"
    try:
        with rt.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
        checks["broker"] = "ok"
    except Exception:
        log.warning("readiness: the broker did not answer", exc_info=True)
        checks["broker"] = "failed"
    failed = sorted(name for name, value in checks.items() if value != "ok")
    if failed:
        return problem_response(
            503, f"Not ready: {', '.join(failed)} did not answer.", extra={"checks": checks}
        )
    return {"status": "ok", "checks": checks}


def _projection(name: str) -> Any:
    if name not in PROJECTIONS:
        raise Problem(404, f"No projection {name}.")
    return PROJECTIONS[name]


@blp.route("/ops/projections", methods=["GET"])
@roles(Role.ADMIN)
@blp.response(200, ProjectionStatusListSchema)
def projections() -> dict[str, Any]:
    """Per projection: checkpoint, head, lag, status, parked events and last error."""
    return {"items": projection_status(runtime().databases)}


@blp.route("/ops/projections/<name>/rebuild", methods=["POST"])
@roles(Role.ADMIN)
@blp.response(202, RebuildAcceptedSchema)
def rebuild(name: str) -> Response:
    """Rebuild a projection blue/green: shadow tables, then an atomic swap."""
    projection = _projection(name)
    rt = runtime()
    rt.celery.send_task(
        "tally.rebuild", args=(projection.name,), shadow=f"rebuild {projection.name}"
    )
    audit.record(rt.databases, projection.name, "rebuild", current_caller().email, {})
    response = jsonify({"projection": projection.name, "status": "rebuilding"})
    response.status_code = 202
    return response


@blp.route("/ops/projections/<name>/parked", methods=["GET"])
@roles(Role.ADMIN)
@blp.response(200, ParkedListSchema)
def parked(name: str) -> dict[str, Any]:
    """Parked events of a projection, oldest first, with their errors."""
    projection = _projection(name)
    return {"items": parking.list_parked(runtime().databases, projection.name)}


@blp.route("/ops/projections/<name>/parked/retry", methods=["POST"])
@roles(Role.ADMIN)
@blp.arguments(ParkedActionSchema(), required=False)
@blp.response(200, RetryResultSchema)
def retry_parked(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Apply parked events again in order; a key that fails again stays parked."""
    projection = _projection(name)
    return parking.retry_parked(
        runtime().databases, projection, current_caller().email, key=(body or {}).get("key")
    )


@blp.route("/ops/projections/<name>/parked/skip", methods=["POST"])
@roles(Role.ADMIN)
@blp.arguments(ParkedActionSchema(), required=False)
@blp.response(200, SkipResultSchema)
def skip_parked(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Drop parked events unapplied so their keys flow again."""
    projection = _projection(name)
    return parking.skip_parked(
        runtime().databases, projection, current_caller().email, key=(body or {}).get("key")
    )


@blp.route("/ops/projections/verify", methods=["POST"])
@roles(Role.ADMIN)
@blp.arguments(VerifyRequestSchema(), required=False)
@blp.response(200, VerificationListSchema)
def verify(body: dict[str, Any]) -> dict[str, Any]:
    """Diff read models against the write tables now; the drift also goes to /metrics."""
    only = (body or {}).get("projection")
    return {
        "items": verify_and_record(
            runtime().databases, [only] if only else None, actor=current_caller().email
        )
    }


@blp.route("/ops/projections/operator-actions", methods=["GET"])
@roles(Role.ADMIN)
@problems(404)
@blp.arguments(OperatorActionQuerySchema, location="query")
@blp.response(200, OperatorActionListSchema)
def operator_actions(args: dict[str, Any]) -> dict[str, Any]:
    """Who retried, skipped, rebuilt or verified what, newest first."""
    if args["projection"] is not None and args["projection"] not in PROJECTIONS:
        raise Problem(404, f"No projection {args['projection']}.")
    return {"items": audit.recent_actions(runtime().databases, args["projection"], args["limit"])}

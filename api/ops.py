"""Health and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from api.auth import require_role
from api.errors import problem_response
from api.runtime import runtime
from readmodels.status import projection_status

blp = Blueprint("ops", __name__)


@blp.get("/health")
def health() -> Response:
    """200 while the process is up."""
    return jsonify({"status": "ok"})


@blp.get("/ready")
def ready() -> tuple[Response, int]:
    """200 when the databases and the broker answer, else 503 naming what failed."""
    rt = runtime()
    checks: dict[str, str] = {}
    for name, db_engine in (("database", rt.databases.write), ("read_database", rt.databases.read)):
        try:
            with db_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks[name] = "ok"
        except Exception as error:
            checks[name] = f"failed: {type(error).__name__}"
    try:
        with rt.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
        checks["broker"] = "ok"
    except Exception as error:
        checks["broker"] = f"failed: {type(error).__name__}"
    failed = sorted(name for name, value in checks.items() if value != "ok")
    if failed:
        return problem_response(
            503, f"Not ready: {', '.join(failed)} did not answer.", extra={"checks": checks}
        ), 503
    return jsonify({"status": "ok", "checks": checks}), 200


@blp.get("/api/v1/ops/projections")
def projections() -> Response:
    """Per projection: checkpoint, head, lag, status, parked events and last error."""
    require_role("admin")
    return jsonify({"items": projection_status(runtime().databases)})

"""The query side of the HTTP API: read tables only, never the write tables."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from api.auth import current_caller
from api.errors import Problem
from api.runtime import runtime
from api.schemas import DashboardSchema, MinPositionSchema
from readmodels import engine, queries

blp = Blueprint("queries", __name__, description="Queries: served from the read models.")


def wait_for(projection: str, args: dict[str, Any]) -> None:
    """Honour min_position: wait (bounded) for the projection, else 503."""
    target = args.get("min_position")
    if target is None:
        return
    rt = runtime()
    reached = engine.wait_for_position(
        rt.databases, projection, target, rt.settings.min_position_timeout
    )
    if reached is None:
        raise Problem(
            503,
            f"The {projection} read model has not reached position {target} yet.",
            headers={"Retry-After": "1"},
        )


@blp.route("/projects/<uuid:project_id>/dashboard", methods=["GET"])
@blp.arguments(MinPositionSchema, location="query")
@blp.response(200, DashboardSchema)
def project_dashboard(args: dict[str, Any], project_id: uuid.UUID) -> tuple[Any, int, dict]:
    """A project's dashboard: budget, hours, billed, tasks and team."""
    wait_for("project_dashboards", args)
    with runtime().databases.read.connect() as conn:
        row, position = queries.dashboard(conn, project_id)
    caller = current_caller()
    if row is None or not _may_see(caller, row):
        raise Problem(404, f"No project {project_id}.")
    return row, 200, {"X-Projection-Position": str(position)}


def _may_see(caller: Any, row: dict[str, Any]) -> bool:
    if caller.role in ("admin", "manager"):
        return True
    return any(member["person_id"] == str(caller.person_id) for member in row["team"])

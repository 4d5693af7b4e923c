"""The query side of the HTTP API: read tables only, never the write tables."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g
from marshmallow import Schema
from sqlalchemy import Connection

from api.auth import current_caller, require_role
from api.csv_export import export, require_range, wants_csv
from api.errors import Problem
from api.openapi import csv_also, problems, roles
from api.parsing import Blueprint
from api.runtime import runtime
from api.schemas import (
    BudgetBurnPageSchema,
    BudgetBurnQuerySchema,
    BudgetBurnRowSchema,
    DashboardPageSchema,
    DashboardSchema,
    LockDateViewSchema,
    MinPositionSchema,
    ProfitabilityPageSchema,
    ProjectListQuerySchema,
    ReportQuerySchema,
    RevenuePageSchema,
    RevenueRowSchema,
    TimeEntryPageSchema,
    TimeEntryQuerySchema,
    TimeEntryRowSchema,
    TimesheetPageSchema,
    TimesheetQuerySchema,
    UtilizationPageSchema,
    UtilizationRowSchema,
)
from domain import access
from domain.model import Role
from readmodels import queries
from readmodels.catchup.checkpoints import checkpoint_position, concerns_range, head_position
from readmodels.catchup.loop import wait_for_position

blp = Blueprint("queries", __name__, description="Queries: served from the read models.")

Reply = tuple[Any, int, dict[str, str]]


def wait_for(projection: str, args: dict[str, Any]) -> None:
    """Honour min_position: refuse one beyond the event log's head at once, wait (bounded in
    time and in waiters per process) for one the projection has not reached, else 503."""
    target = args.get("min_position")
    if target is None:
        return
    rt = runtime()
    checkpoint = checkpoint_position(rt.databases, projection)
    if checkpoint >= target:
        return
    head = head_position(rt.databases)
    if target > head:
        # 409 as the document's rule says: valid by the document, refused by the state.
        message = f"Position {target} is beyond the event log's head ({head})."
        raise Problem(409, message, errors={"min_position": [message]}, extra={"head": head})
    if not concerns_range(rt.databases, projection, checkpoint, target):
        # Nothing up to target changes this read model: it already answers as of target.
        g.current_as_of = target
        return
    with rt.waiters.slot() as may_wait:
        if not may_wait:
            raise Problem(
                503,
                "Too many requests are waiting for read models; retry shortly.",
                headers={"Retry-After": "1"},
            )
        # Commands wake only the projections their events concern, so the events before
        # target may hold nothing for this one and no catch-up be coming: ask for one.
        rt.delivery.wake([projection], target)
        reached = wait_for_position(
            rt.databases, projection, target, rt.settings.min_position_timeout
        )
    if reached is None:
        raise Problem(
            503,
            f"The {projection} read model has not reached position {target} yet.",
            headers={"Retry-After": "1"},
        )


def report_current_position(response: Response) -> Response:
    """X-Projection-Position is at least the min_position a read was found current at."""
    floor = g.get("current_as_of")
    reported = response.headers.get("X-Projection-Position")
    if floor is not None and reported is not None and int(reported) < floor:
        response.headers["X-Projection-Position"] = str(floor)
    return response


def install(app: Flask) -> None:
    app.after_request(report_current_position)


def read_connection() -> Connection:
    """A connection outside any transaction. A query reads its checkpoint, then its rows: the
    rows reflect at least that position, which is all X-Projection-Position promises. So no
    BEGIN and ROLLBACK round trips on PostgreSQL, and on SQLite, where every transaction
    begins IMMEDIATE, no wait for the write lock behind a command or a rebuild."""
    return runtime().databases.read_autocommit.connect()


def csv_read(
    projection: str,
    args: dict[str, Any],
    name: str,
    schema: Schema,
    page: Callable[[Connection, int, str | None], queries.Page],
) -> Response:
    """Every row as CSV, once the read model holds min_position."""
    wait_for(projection, args)
    return export(name, schema, page, read_connection)


def read(
    projection: str, args: dict[str, Any], query: Callable[[Connection], queries.Page]
) -> Reply:
    """A page, once the read model holds min_position."""
    wait_for(projection, args)
    return page_reply(query)


def page_reply(query: Callable[[Connection], queries.Page]) -> Reply:
    try:
        with read_connection() as conn:
            page = query(conn)
    except queries.BadCursor as error:
        raise Problem(422, str(error), errors={"cursor": [str(error)]}) from error
    body = {"items": page.items, "next_cursor": page.next_cursor}
    return body, 200, {"X-Projection-Position": str(page.position)}


@blp.route("/projects/<uuid:project_id>/dashboard", methods=["GET"])
@problems(409)
@blp.arguments(MinPositionSchema, location="query")
@blp.response(200, DashboardSchema)
def project_dashboard(args: dict[str, Any], project_id: uuid.UUID) -> Reply:
    """A project's dashboard: budget, hours, billed, tasks and team."""
    wait_for("project_dashboards", args)
    with read_connection() as conn:
        row, position = queries.dashboard(conn, project_id)
    if row is None or not _may_see(row):
        raise Problem(404, f"No project {project_id}.")
    return row, 200, {"X-Projection-Position": str(position)}


def _may_see(row: dict[str, Any]) -> bool:
    """Whether the caller may see the project of this dashboard row."""
    team = {uuid.UUID(member["person_id"]) for member in row["team"]}
    return access.can_see_project(current_caller(), row["manager_id"], team)


@blp.route("/projects", methods=["GET"])
@problems(409)
@blp.arguments(ProjectListQuerySchema, location="query")
@blp.response(200, DashboardPageSchema)
def list_projects(args: dict[str, Any]) -> Reply:
    """Projects as dashboard rows; members see the projects they are on."""
    caller = current_caller()
    member_id = caller.person_id if caller.role == Role.MEMBER else None
    return read(
        "project_dashboards",
        args,
        lambda conn: queries.projects(
            conn,
            client_id=args.get("client_id"),
            manager_id=args.get("manager_id"),
            status=args.get("status"),
            member_id=member_id,
            include_archived=args["archived"],
            sort=args["sort"],
            limit=args["limit"],
            cursor=args["cursor"],
        ),
    )


@blp.route("/time-entries", methods=["GET"])
@csv_also
@problems(409)
@blp.arguments(TimeEntryQuerySchema, location="query")
@blp.response(200, TimeEntryPageSchema)
def list_time_entries(args: dict[str, Any]) -> Reply | Response:
    """Time entries, newest first; members see only their own. CSV: `from` and `to` needed."""
    caller = current_caller()
    viewer_id = caller.person_id if caller.role == Role.MEMBER else None

    def page(conn: Connection, limit: int, cursor: str | None) -> queries.Page:
        return queries.time_entries(
            conn,
            person_id=args.get("person_id"),
            viewer_id=viewer_id,
            project_id=args.get("project_id"),
            status=args.get("status"),
            date_from=args.get("date_from"),
            date_to=args.get("date_to"),
            limit=limit,
            cursor=cursor,
        )

    if wants_csv():
        require_range(args.get("date_from"), args.get("date_to"))
        return csv_read("time_entry_rows", args, "time-entries", TimeEntryRowSchema(), page)
    return read("time_entry_rows", args, lambda conn: page(conn, args["limit"], args["cursor"]))


@blp.route("/timesheets", methods=["GET"])
@problems(409)
@blp.arguments(TimesheetQuerySchema, location="query")
@blp.response(200, TimesheetPageSchema)
def list_timesheets(args: dict[str, Any]) -> Reply:
    """Person x ISO week with hours and status, latest week first; members see their own.
    `?status=submitted` is what waits for review."""
    caller = current_caller()
    viewer_id = caller.person_id if caller.role == Role.MEMBER else None
    return read(
        "timesheets",
        args,
        lambda conn: queries.timesheets(
            conn,
            person_id=args.get("person_id"),
            viewer_id=viewer_id,
            week=args.get("week"),
            status=args.get("status"),
            limit=args["limit"],
            cursor=args["cursor"],
        ),
    )


@blp.route("/reports/utilization", methods=["GET"])
@csv_also
@roles(Role.ADMIN, Role.MANAGER)
@problems(409)
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, UtilizationPageSchema)
def utilization_report(args: dict[str, Any]) -> Reply | Response:
    """Hours against capacity per person and ISO week."""

    def page(conn: Connection, limit: int, cursor: str | None) -> queries.Page:
        return queries.utilization_report(conn, args["date_from"], args["date_to"], limit, cursor)

    if wants_csv():
        require_range(args["date_from"], args["date_to"])
        return csv_read("utilization", args, "utilization", UtilizationRowSchema(), page)
    return read("utilization", args, lambda conn: page(conn, args["limit"], args["cursor"]))


@blp.route("/reports/revenue", methods=["GET"])
@csv_also
@roles(Role.ADMIN, Role.MANAGER)
@problems(409)
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, RevenuePageSchema)
def revenue_report(args: dict[str, Any]) -> Reply | Response:
    """Billable hours and billed amounts per client and month."""

    def page(conn: Connection, limit: int, cursor: str | None) -> queries.Page:
        return queries.revenue_report(conn, args["date_from"], args["date_to"], limit, cursor)

    if wants_csv():
        require_range(args["date_from"], args["date_to"])
        return csv_read("client_revenue", args, "revenue", RevenueRowSchema(), page)
    return read("client_revenue", args, lambda conn: page(conn, args["limit"], args["cursor"]))


@blp.route("/reports/profitability", methods=["GET"])
@roles(Role.ADMIN, Role.MANAGER)
@problems(409)
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, ProfitabilityPageSchema)
def profitability_report(args: dict[str, Any]) -> Reply:
    """Hours, billed, cost and margin per project and month."""
    require_role(Role.ADMIN, Role.MANAGER)
    return read(
        "project_profitability",
        args,
        lambda conn: queries.profitability_report(
            conn, args["date_from"], args["date_to"], args["limit"], args["cursor"]
        ),
    )


@blp.route("/reports/budget-burn", methods=["GET"])
@csv_also
@problems(403, 404, 409)
@blp.arguments(BudgetBurnQuerySchema, location="query")
@blp.response(200, BudgetBurnPageSchema)
def budget_burn_report(args: dict[str, Any]) -> Reply | Response:
    """A project's hours and billed amounts per ISO week, with the budget left."""
    caller = current_caller()
    project_id = args["project_id"]
    wait_for("budget_burn", args)
    with read_connection() as conn:
        row, _ = queries.dashboard(conn, project_id)
    if row is None or not _may_see(row):
        raise Problem(404, f"No project {project_id}.")
    if not (caller.is_admin or row["manager_id"] == caller.person_id):
        raise Problem(403, "Only an admin or the project's manager may see its budget burn.")
    # The read model was waited for above, before its dashboard row: not again here.
    if wants_csv():
        return export(
            "budget-burn",
            BudgetBurnRowSchema(),
            lambda conn, _limit, _cursor: queries.budget_burn_report(conn, project_id),
            read_connection,
        )
    return page_reply(lambda conn: queries.budget_burn_report(conn, project_id))


@blp.route("/settings/lock-date", methods=["GET"])
@problems(409)
@blp.arguments(MinPositionSchema, location="query")
@blp.response(200, LockDateViewSchema)
def lock_date(args: dict[str, Any]) -> Reply:
    """The firm's lock date (null when no period is locked) and who set it."""
    wait_for("lock_date", args)
    with read_connection() as conn:
        row, position = queries.lock_date(conn)
    return row, 200, {"X-Projection-Position": str(position)}

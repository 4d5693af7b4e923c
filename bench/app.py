"""The bench's own app: Tally's app plus the baselines the benchmarks compare it with, served
by the same app under the same authentication, never part of the product's API.

- `GET /api/v1/bench/live/...`: each read endpoint answered by the live join on the write
  tables (the "CRUD way" queries of `readmodels.verify`), dumped with the same schemas.
- `POST /api/v1/bench/crud/time-entries`: `LogTime` with the same validation, rules and
  write-table insert, and no event appended (nor anything projected).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import Connection, select

from api import create_app as create_tally_app
from api.auth import current_caller
from api.errors import Problem
from api.runtime import runtime
from api.schemas import (
    BudgetBurnPageSchema,
    DashboardPageSchema,
    DashboardSchema,
    LogTimeSchema,
    RevenuePageSchema,
    TimeEntryPageSchema,
    UtilizationPageSchema,
)
from domain import commands, handlers
from domain.money import percent
from domain.store import tables as w
from domain.store.unit_of_work import SqlUnitOfWork
from readmodels import verify
from readmodels.contributions import iso_week, month_of

blp = Blueprint("bench", __name__)
PAGE = 50


class CrudUnitOfWork(SqlUnitOfWork):
    """Saves the aggregates like the SQL unit of work, appends no event."""

    def commit(self) -> None:
        assert self.connection is not None
        for repository in self.repositories:
            for aggregate in repository.seen:
                repository.save(aggregate)
                aggregate.pending_events.clear()
        self.connection.commit()


def create_app() -> Flask:
    app = create_tally_app()
    app.register_blueprint(blp, url_prefix="/api/v1/bench")
    return app


def _write_connection() -> Connection:
    return runtime().databases.write_autocommit.connect()


def _dump(schema: Schema, value: Any) -> Response:
    return jsonify(schema.dump(value))


def _arguments(schema: Schema, source: Any) -> dict[str, Any]:
    try:
        return schema.load(source)  # type: ignore[no-any-return]
    except ValidationError as error:
        raise Problem(422, "The request is not valid.", errors=error.messages) from error


def _date(name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(request.args[name])
    except (KeyError, ValueError) as error:
        raise Problem(400, f"Give '{name}' as a date.") from error


def _uuid(name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.args[name])
    except (KeyError, ValueError) as error:
        raise Problem(400, f"Give '{name}' as a UUID.") from error


@blp.get("/live/projects/<uuid:project_id>/dashboard")
def live_dashboard(project_id: uuid.UUID) -> Response:
    with _write_connection() as conn:
        rows = verify.recompute_project_dashboards(conn, project_id)
    if project_id not in rows:
        raise Problem(404, f"No project {project_id}.")
    return _dump(DashboardSchema(), rows[project_id])


@blp.get("/live/projects")
def live_projects() -> Response:
    with _write_connection() as conn:
        rows = verify.recompute_project_dashboards(conn)
    first = sorted(rows.values(), key=lambda row: (row["name"], str(row["project_id"])))[:PAGE]
    return _dump(DashboardPageSchema(), {"items": first, "next_cursor": None})


@blp.get("/live/time-entries")
def live_time_entries() -> Response:
    """A project's newest entries, joined to their person, project, client and task."""
    entries = w.time_entries
    query = (
        verify.time_entry_rows_query()
        .where(entries.c.project_id == _uuid("project_id"))
        .order_by(entries.c.date.desc(), entries.c.id.desc())
        .limit(PAGE)
    )
    with _write_connection() as conn:
        items = [dict(row._mapping) for row in conn.execute(query)]
        reasons = _rejection_reasons(conn, [i["id"] for i in items if i["status"] == "rejected"])
    for item in items:
        item["rejection_reason"] = reasons.get(item["id"])
    return _dump(TimeEntryPageSchema(), {"items": items, "next_cursor": None})


def _rejection_reasons(conn: Connection, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The last reason each rejected entry was given (kept only in its events)."""
    if not entry_ids:
        return {}
    log = w.event_log
    rows = conn.execute(
        select(log.c.aggregate_id, log.c.data)
        .where(log.c.event_type == "TimeEntryRejected", log.c.aggregate_id.in_(entry_ids))
        .order_by(log.c.position)
    )
    return {row.aggregate_id: row.data["reason"] for row in rows}


@blp.get("/live/reports/utilization")
def live_utilization() -> Response:
    date_from, date_to = _date("from"), _date("to")
    first_monday = date_from - dt.timedelta(days=date_from.weekday())
    with _write_connection() as conn:
        rows = verify.recompute_utilization(conn, date_from, date_to)
    items = sorted(
        (row for row in rows.values() if first_monday <= row["week_start"] <= date_to),
        key=lambda row: (row["week_start"], str(row["person_id"])),
    )[:PAGE]
    for row in items:
        row["utilization_pct"] = float(percent(row["hundredths"], row["capacity_hundredths"]))
        row["billable_utilization_pct"] = float(
            percent(row["billable_hundredths"], row["capacity_hundredths"])
        )
    return _dump(UtilizationPageSchema(), {"items": items, "next_cursor": None})


@blp.get("/live/reports/revenue")
def live_revenue() -> Response:
    """Billable hours, amounts and cost per client and month over the months the range
    overlaps."""
    date_from, date_to = _date("from"), _date("to")
    entries = w.time_entries
    in_range = entries.c.date.between(date_from.replace(day=1), _month_end(date_to))
    rows: dict[Any, dict[str, Any]] = {}
    with _write_connection() as conn:
        names = dict(conn.execute(select(w.clients.c.id, w.clients.c.name)).all())
        for day in verify.daily(conn, w.projects.c.client_id, in_range):
            month, month_start = month_of(day.date)
            row = rows.setdefault(
                (month_start, str(day.key)),
                {
                    "client_id": day.key,
                    "client_name": names[day.key],
                    "month": month,
                    "billable_hundredths": 0,
                    "billed_cents": 0,
                    "cost_cents": 0,
                },
            )
            row["billable_hundredths"] += int(day.billable)
            row["billed_cents"] += int(day.billed)
            row["cost_cents"] += int(day.cost)
    items = [rows[key] for key in sorted(rows)][:PAGE]
    return _dump(RevenuePageSchema(), {"items": items, "next_cursor": None})


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


@blp.get("/live/reports/budget-burn")
def live_budget_burn() -> Response:
    """A project's hours and billed amounts per ISO week, cumulated against its budget."""
    project_id = _uuid("project_id")
    weeks: dict[dt.date, dict[str, Any]] = {}
    with _write_connection() as conn:
        budget = conn.execute(
            select(w.projects.c.budget_cents).where(w.projects.c.id == project_id)
        ).scalar()
        if budget is None:
            raise Problem(404, f"No project {project_id}.")
        only = w.time_entries.c.project_id == project_id
        for day in verify.daily(conn, w.time_entries.c.project_id, only):
            week, week_start = iso_week(day.date)
            row = weeks.setdefault(week_start, {"week": week, "hundredths": 0, "billed_cents": 0})
            row["hundredths"] += int(day.hours)
            row["billed_cents"] += int(day.billed)
    cumulative = 0
    items = []
    for week_start in sorted(weeks):
        row = weeks[week_start]
        cumulative += row["billed_cents"]
        items.append(
            row
            | {"cumulative_billed_cents": cumulative, "budget_remaining_cents": budget - cumulative}
        )
    return _dump(BudgetBurnPageSchema(), {"items": items, "next_cursor": None})


@blp.post("/crud/time-entries")
def crud_log_time() -> tuple[Response, int]:
    body = _arguments(LogTimeSchema(), request.get_json())
    caller = current_caller()
    if not caller.is_admin and body["person_id"] != caller.person_id:
        raise Problem(403, "Log time for yourself (only an admin logs time for others).")
    command = commands.LogTime(
        project_id=body["project_id"],
        person_id=body["person_id"],
        date=body["date"],
        hours_hundredths=body["hours"],
        billable=body["billable"],
        task_id=body["task_id"],
        notes=body["notes"],
    )
    rt = runtime()
    outcome = handlers.handle(
        command, CrudUnitOfWork(rt.databases.write, policy=rt.settings.policy)
    )
    return jsonify({"id": str(outcome.id), "version": outcome.version, "position": None}), 201

"""Verify: recompute each read model from the write tables (joins and aggregates, the CRUD
way) and diff it against what the projector built. The same queries are the benchmarks'
baseline and the tests' oracle.

An oracle shares nothing with what it checks: this module uses the read tables' definitions
and the domain's statuses, and computes everything else (weeks, months, percentages, the
team list, a week's status) itself, so that a bug in a projector's helper cannot pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, case, func, select, true

from domain.model import COUNTED_STATUSES, ENTRY_STATUSES
from domain.store import tables as w
from domain.store.db import Databases
from readmodels import tables as r

Rows = dict[Any, dict[str, Any]]


COUNTED = w.time_entries.c.status.in_(COUNTED_STATUSES)
BILLABLE = w.time_entries.c.billable.is_(True)
STATUS_COLUMNS = {status: f"{status}_entries" for status in ENTRY_STATUSES}


def _week(day: dt.date) -> tuple[str, dt.date]:
    """The ISO week label (2026-W48) and its Monday."""
    return day.strftime("%G-W%V"), day - dt.timedelta(days=day.weekday())


def _month(day: dt.date) -> tuple[str, dt.date]:
    return day.strftime("%Y-%m"), day.replace(day=1)


def _budget_used_pct(billed_cents: int, budget_cents: int) -> Decimal:
    if budget_cents == 0:
        return Decimal("0.0")
    share = Decimal(billed_cents) * 100 / Decimal(budget_cents)
    return share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _team(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The team as the dashboard shows it: by name, then id."""
    ordered = sorted(members, key=lambda m: (m["name"], str(m["person_id"])))
    return [
        {
            "person_id": str(m["person_id"]),
            "name": m["name"],
            "role": m["role"],
            "bill_rate_cents": m["bill_rate_cents"],
        }
        for m in ordered
    ]


def _week_status(row: dict[str, Any]) -> str:
    """The one status all the week's entries share, else mixed."""
    present = {status for status, column in STATUS_COLUMNS.items() if row[column]}
    return present.pop() if len(present) == 1 else "mixed"


def _person_name(people: Any) -> Any:
    return (people.c.first_name + " " + people.c.last_name).label("name")


def recompute_project_dashboards(conn: Connection, project_id: Any = None) -> Rows:
    """Every dashboard (or one project's) the CRUD way: joins and aggregates."""

    def only(column: Any) -> ColumnElement[bool]:
        return true() if project_id is None else column == project_id

    totals = _project_totals(conn, only(w.time_entries.c.project_id))
    tasks = _project_tasks(conn, only(w.tasks.c.project_id))
    teams = _project_teams(conn, only(w.project_members.c.project_id))
    rows: Rows = {}
    for row in conn.execute(_projects_query().where(only(w.projects.c.id))):
        total, task = totals.get(row.project_id), tasks.get(row.project_id)
        billed = int(total.billed) if total else 0
        rows[row.project_id] = dict(row._mapping) | {
            "total_hundredths": int(total.total) if total else 0,
            "billable_hundredths": int(total.billable) if total else 0,
            "billed_cents": billed,
            "total_cost_cents": int(total.cost) if total else 0,
            "budget_used_pct": _budget_used_pct(billed, row.budget_cents),
            "active_task_count": int(task.active) if task else 0,
            "completed_task_count": int(task.completed) if task else 0,
            "team": _team(teams.get(row.project_id, [])),
        }
    return rows


def _projects_query() -> Select[Any]:
    manager = w.people.alias("manager")
    return (
        select(
            w.projects.c.id.label("project_id"),
            w.projects.c.name,
            w.projects.c.status,
            w.projects.c.archived,
            w.projects.c.client_id,
            w.clients.c.name.label("client_name"),
            w.projects.c.manager_id,
            (manager.c.first_name + " " + manager.c.last_name).label("manager_name"),
            w.projects.c.start_date,
            w.projects.c.end_date,
            w.projects.c.budget_cents,
        )
        .join(w.clients, w.clients.c.id == w.projects.c.client_id)
        .join(manager, manager.c.id == w.projects.c.manager_id)
    )


def _project_totals(conn: Connection, where: ColumnElement[bool]) -> dict[Any, Any]:
    entries = w.time_entries
    return {
        row.project_id: row
        for row in conn.execute(
            select(
                entries.c.project_id,
                func.sum(entries.c.hours_hundredths).label("total"),
                func.sum(case((BILLABLE, entries.c.hours_hundredths), else_=0)).label("billable"),
                func.sum(case((BILLABLE, entries.c.amount_cents), else_=0)).label("billed"),
                func.sum(entries.c.cost_cents).label("cost"),
            )
            .where(COUNTED, where)
            .group_by(entries.c.project_id)
        )
    }


def _project_tasks(conn: Connection, where: ColumnElement[bool]) -> dict[Any, Any]:
    return {
        row.project_id: row
        for row in conn.execute(
            select(
                w.tasks.c.project_id,
                func.sum(case((w.tasks.c.completed.is_(False), 1), else_=0)).label("active"),
                func.sum(case((w.tasks.c.completed.is_(True), 1), else_=0)).label("completed"),
            )
            .where(where)
            .group_by(w.tasks.c.project_id)
        )
    }


def _project_teams(conn: Connection, where: ColumnElement[bool]) -> dict[Any, list[dict[str, Any]]]:
    teams: dict[Any, list[dict[str, Any]]] = {}
    for member in conn.execute(
        select(w.project_members, _person_name(w.people))
        .join(w.people, w.people.c.id == w.project_members.c.person_id)
        .where(where)
    ):
        teams.setdefault(member.project_id, []).append(dict(member._mapping))
    return teams


def current_project_dashboards(conn: Connection) -> Rows:
    columns = [c for c in r.project_dashboards.c if c.name != "updated_at"]
    return {row.project_id: dict(row._mapping) for row in conn.execute(select(*columns))}


def time_entry_rows_query() -> Select[Any]:
    """Each entry joined to its person, project, client and task: the rows' live join."""
    entries = w.time_entries
    return (
        select(
            entries.c.id,
            entries.c.date,
            entries.c.hours_hundredths,
            entries.c.billable,
            entries.c.amount_cents.label("value_cents"),
            case((BILLABLE, entries.c.amount_cents), else_=0).label("billable_amount_cents"),
            entries.c.status,
            entries.c.notes,
            entries.c.person_id,
            (w.people.c.first_name + " " + w.people.c.last_name).label("person_name"),
            entries.c.project_id,
            w.projects.c.name.label("project_name"),
            w.projects.c.client_id,
            w.clients.c.name.label("client_name"),
            entries.c.task_id,
            w.tasks.c.name.label("task_name"),
        )
        .join(w.people, w.people.c.id == entries.c.person_id)
        .join(w.projects, w.projects.c.id == entries.c.project_id)
        .join(w.clients, w.clients.c.id == w.projects.c.client_id)
        .outerjoin(w.tasks, w.tasks.c.id == entries.c.task_id)
    )


def recompute_time_entry_rows(conn: Connection) -> Rows:
    reasons = {
        row.aggregate_id: row.data["reason"]
        for row in conn.execute(
            select(w.event_log.c.aggregate_id, w.event_log.c.data)
            .where(w.event_log.c.event_type == "TimeEntryRejected")
            .order_by(w.event_log.c.position)
        )
    }
    return {
        row.id: dict(row._mapping)
        | {"rejection_reason": reasons.get(row.id) if row.status == "rejected" else None}
        for row in conn.execute(time_entry_rows_query())
    }


def current_time_entry_rows(conn: Connection) -> Rows:
    return {row.id: dict(row._mapping) for row in conn.execute(select(r.time_entry_rows))}


def daily(conn: Connection, key_column: Any, where: Any) -> Any:
    """Counted entries summed per key and day (SQL); weeks and months are rolled up after."""
    entries = w.time_entries
    return conn.execute(
        select(
            key_column.label("key"),
            entries.c.date,
            func.sum(entries.c.hours_hundredths).label("hours"),
            func.sum(case((BILLABLE, entries.c.hours_hundredths), else_=0)).label("billable"),
            func.sum(case((BILLABLE, entries.c.amount_cents), else_=0)).label("billed"),
            func.sum(entries.c.cost_cents).label("cost"),
            func.count().label("entries"),
        )
        .select_from(entries.join(w.projects, w.projects.c.id == entries.c.project_id))
        .where(COUNTED, where)
        .group_by(key_column, entries.c.date)
    )


def recompute_utilization(conn: Connection, date_from: Any = None, date_to: Any = None) -> Rows:
    """Utilization the CRUD way; with a range, only the ISO weeks that overlap it."""
    people = {
        row.id: row
        for row in conn.execute(
            select(w.people.c.id, _person_name(w.people), w.people.c.weekly_capacity_hundredths)
        )
    }
    rows: Rows = {}
    in_range: ColumnElement[bool] = true()
    if date_from is not None:
        first_monday = date_from - dt.timedelta(days=date_from.weekday())
        last_sunday = date_to + dt.timedelta(days=6 - date_to.weekday())
        in_range = w.time_entries.c.date.between(first_monday, last_sunday)
    for day in daily(conn, w.time_entries.c.person_id, in_range):
        week, week_start = _week(day.date)
        person = people[day.key]
        row = rows.setdefault(
            (day.key, week),
            {
                "person_id": day.key,
                "week": week,
                "week_start": week_start,
                "person_name": person.name,
                "hundredths": 0,
                "billable_hundredths": 0,
                "capacity_hundredths": person.weekly_capacity_hundredths,
                "entries": 0,
            },
        )
        row["hundredths"] += int(day.hours)
        row["billable_hundredths"] += int(day.billable)
        row["entries"] += int(day.entries)
    return rows


def current_utilization(conn: Connection) -> Rows:
    return {
        (row.person_id, row.week): dict(row._mapping) for row in conn.execute(select(r.utilization))
    }


def recompute_client_revenue(conn: Connection) -> Rows:
    names = dict(conn.execute(select(w.clients.c.id, w.clients.c.name)).all())
    rows: Rows = {}
    for day in daily(conn, w.projects.c.client_id, true()):
        month, month_start = _month(day.date)
        row = rows.setdefault(
            (day.key, month),
            {
                "client_id": day.key,
                "month": month,
                "month_start": month_start,
                "client_name": names[day.key],
                "billable_hundredths": 0,
                "billed_cents": 0,
                "cost_cents": 0,
                "entries": 0,
            },
        )
        row["billable_hundredths"] += int(day.billable)
        row["billed_cents"] += int(day.billed)
        row["cost_cents"] += int(day.cost)
        row["entries"] += int(day.entries)
    return rows


def current_client_revenue(conn: Connection) -> Rows:
    return {
        (row.client_id, row.month): dict(row._mapping)
        for row in conn.execute(select(r.client_revenue))
    }


def recompute_budget_burn(conn: Connection) -> Rows:
    budgets = dict(conn.execute(select(w.projects.c.id, w.projects.c.budget_cents)).all())
    rows: Rows = {}
    for day in daily(conn, w.time_entries.c.project_id, true()):
        week, week_start = _week(day.date)
        row = rows.setdefault(
            (day.key, week),
            {
                "project_id": day.key,
                "week": week,
                "week_start": week_start,
                "hundredths": 0,
                "billed_cents": 0,
                "budget_cents": budgets[day.key],
                "entries": 0,
            },
        )
        row["hundredths"] += int(day.hours)
        row["billed_cents"] += int(day.billed)
        row["entries"] += int(day.entries)
    return rows


def current_budget_burn(conn: Connection) -> Rows:
    return {
        (row.project_id, row.week): dict(row._mapping)
        for row in conn.execute(select(r.budget_burn))
    }


def recompute_timesheets(conn: Connection) -> Rows:
    entries = w.time_entries
    names = {
        row.id: row.name for row in conn.execute(select(w.people.c.id, _person_name(w.people)))
    }
    actions = _week_actions(conn)
    rows: Rows = {}
    for day in conn.execute(
        select(
            entries.c.person_id,
            entries.c.date,
            entries.c.status,
            func.count().label("entries"),
            func.sum(entries.c.hours_hundredths).label("hours"),
        ).group_by(entries.c.person_id, entries.c.date, entries.c.status)
    ):
        week, week_start = _week(day.date)
        action = actions.get((day.person_id, week))
        acted_by = action.acted_by if action else None
        row = rows.setdefault(
            (day.person_id, week),
            {
                "person_id": day.person_id,
                "week": week,
                "week_start": week_start,
                "person_name": names[day.person_id],
                "hundredths": 0,
                **dict.fromkeys(STATUS_COLUMNS.values(), 0),
                "last_action": action.last_action if action else None,
                "acted_by": acted_by,
                "acted_by_name": names[acted_by] if acted_by else None,
                "reason": action.reason if action else None,
            },
        )
        row[STATUS_COLUMNS[day.status]] += int(day.entries)
        if day.status in COUNTED_STATUSES:
            row["hundredths"] += int(day.hours)
    for row in rows.values():
        row["status"] = _week_status(row)
    return rows


def _week_actions(conn: Connection) -> dict[tuple[Any, str], Any]:
    """The last action on each week acted on as a whole, by (person, week)."""
    sheets = w.timesheets
    return {
        (row.person_id, row.week): row
        for row in conn.execute(
            select(
                sheets.c.person_id,
                sheets.c.week,
                sheets.c.last_action,
                sheets.c.acted_by,
                sheets.c.reason,
            ).where(sheets.c.last_action.is_not(None))
        )
    }


def current_timesheets(conn: Connection) -> Rows:
    return {
        (row.person_id, row.week): dict(row._mapping)
        for row in conn.execute(select(r.timesheet_weeks))
    }


def recompute_lock_date(conn: Connection) -> Rows:
    settings = w.firm_settings
    return {
        row.firm_id: dict(row._mapping)
        for row in conn.execute(
            select(
                settings.c.id.label("firm_id"),
                settings.c.lock_date,
                settings.c.lock_date_set_by.label("set_by"),
            )
        )
    }


def current_lock_date(conn: Connection) -> Rows:
    return {row.firm_id: dict(row._mapping) for row in conn.execute(select(r.lock_date))}


def recompute_project_profitability(conn: Connection) -> Rows:
    names = dict(conn.execute(select(w.projects.c.id, w.projects.c.name)).all())
    rows: Rows = {}
    for day in daily(conn, w.time_entries.c.project_id, true()):
        month, month_start = _month(day.date)
        row = rows.setdefault(
            (day.key, month),
            {
                "project_id": day.key,
                "month": month,
                "month_start": month_start,
                "project_name": names[day.key],
                "hundredths": 0,
                "billed_cents": 0,
                "cost_cents": 0,
                "entries": 0,
            },
        )
        row["hundredths"] += int(day.hours)
        row["billed_cents"] += int(day.billed)
        row["cost_cents"] += int(day.cost)
        row["entries"] += int(day.entries)
    return rows


def current_project_profitability(conn: Connection) -> Rows:
    return {
        (row.project_id, row.month): dict(row._mapping)
        for row in conn.execute(select(r.project_profitability))
    }


def recompute_directory(conn: Connection) -> Rows:
    """The directory's five tables as one set of rows, keyed by (table, key)."""
    rows: Rows = {}
    for client in conn.execute(select(w.clients.c.id, w.clients.c.name)):
        rows[("client", client.id)] = {"name": client.name, "name_key": client.name.lower()}
    people = select(
        w.people.c.id,
        w.people.c.first_name,
        w.people.c.last_name,
        w.people.c.email,
        w.people.c.role,
        w.people.c.weekly_capacity_hundredths,
    )
    for person in conn.execute(people):
        values = dict(person._mapping)
        person_id = values.pop("id")
        name = f"{person.first_name} {person.last_name}"
        rows[("person", person_id)] = values | {"name": name, "name_key": name.lower()}
    for project in conn.execute(select(w.projects.c.id, w.projects.c.manager_id)):
        rows[("project", project.id)] = {"manager_id": project.manager_id}
    for member in conn.execute(
        select(w.project_members.c.project_id, w.project_members.c.person_id)
    ):
        rows[("member", member.project_id, member.person_id)] = {}
    for task in conn.execute(select(w.tasks)):
        values = dict(task._mapping)
        task_id = values.pop("id")
        rows[("task", task_id)] = values | {"name_key": task.name.lower()}
    return rows


def current_directory(conn: Connection) -> Rows:
    rows: Rows = {}
    for client in conn.execute(select(r.directory_clients)):
        values = dict(client._mapping)
        rows[("client", values.pop("client_id"))] = values
    for person in conn.execute(select(r.directory_people)):
        values = dict(person._mapping)
        rows[("person", values.pop("person_id"))] = values
    for project in conn.execute(select(r.directory_projects)):
        rows[("project", project.project_id)] = {"manager_id": project.manager_id}
    for member in conn.execute(select(r.directory_members)):
        rows[("member", member.project_id, member.person_id)] = {}
    for task in conn.execute(select(r.directory_tasks)):
        values = dict(task._mapping)
        rows[("task", values.pop("task_id"))] = values
    return rows


@dataclass(frozen=True)
class Check:
    recompute: Callable[[Connection], Rows]
    current: Callable[[Connection], Rows]


CHECKS: dict[str, Check] = {
    "project_dashboards": Check(recompute_project_dashboards, current_project_dashboards),
    "time_entry_rows": Check(recompute_time_entry_rows, current_time_entry_rows),
    "utilization": Check(recompute_utilization, current_utilization),
    "client_revenue": Check(recompute_client_revenue, current_client_revenue),
    "budget_burn": Check(recompute_budget_burn, current_budget_burn),
    "project_profitability": Check(recompute_project_profitability, current_project_profitability),
    "lock_date": Check(recompute_lock_date, current_lock_date),
    "timesheets": Check(recompute_timesheets, current_timesheets),
    "directory": Check(recompute_directory, current_directory),
}


@dataclass
class Drift:
    projection: str
    missing: list[Any] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)
    differing: dict[Any, dict[str, tuple[Any, Any]]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.differing)

    def report(self, limit: int = 20) -> str:
        if self.clean:
            return f"{self.projection}: ok"
        lines = [
            f"{self.projection}: DRIFT ({len(self.missing)} missing, {len(self.extra)} extra, "
            f"{len(self.differing)} differing rows)"
        ]
        lines += [f"  missing {key}" for key in self.missing[:limit]]
        lines += [f"  extra   {key}" for key in self.extra[:limit]]
        for key, fields in list(self.differing.items())[:limit]:
            changes = ", ".join(
                f"{column}: expected {want!r}, found {got!r}"
                for column, (want, got) in fields.items()
            )
            lines.append(f"  differs {key}: {changes}")
        return "\n".join(lines)


def _normalize(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def diff(name: str, expected: Rows, actual: Rows) -> Drift:
    drift = Drift(name)
    drift.missing = sorted(set(expected) - set(actual), key=str)
    drift.extra = sorted(set(actual) - set(expected), key=str)
    for key in set(expected) & set(actual):
        fields = {
            column: (expected[key][column], actual[key].get(column))
            for column in expected[key]
            if _normalize(expected[key][column]) != _normalize(actual[key].get(column))
        }
        if fields:
            drift.differing[key] = fields
    return drift


def verify(dbs: Databases, name: str) -> Drift:
    check = CHECKS[name]
    with dbs.write.connect() as write_conn:
        expected = check.recompute(write_conn)
    with dbs.read.connect() as read_conn:
        actual = check.current(read_conn)
    return diff(name, expected, actual)

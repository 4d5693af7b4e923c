"""project_dashboards: one row per project, for the dashboard and the project list."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select, update

from domain import events
from domain.money import percent
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.contributions import TIME_ENTRY_EVENTS, changes
from readmodels.projection import Projection, TableSet, key_by, upsert


def person_name(data: dict[str, Any]) -> str:
    return f"{data['first_name']} {data['last_name']}"


def _id(data: dict[str, Any], name: str) -> uuid.UUID:
    return uuid.UUID(data[name])


def _lookup_name(conn: Connection, table: Any, key: str, value: uuid.UUID) -> str:
    name: str = conn.execute(select(table.c.name).where(table.c[key] == value)).scalar_one()
    return name


def on_client_registered(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    upsert(
        conn,
        t.project_dashboards__clients,
        {"client_id": _id(event.data, "client_id"), "name": event.data["name"]},
        ("client_id",),
    )


def on_client_renamed(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    on_client_registered(conn, t, event)
    conn.execute(
        update(t.project_dashboards)
        .where(t.project_dashboards.c.client_id == _id(event.data, "client_id"))
        .values(client_name=event.data["name"], updated_at=event.recorded_at)
    )


def on_person_registered(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    upsert(
        conn,
        t.project_dashboards__people,
        {"person_id": _id(event.data, "person_id"), "name": person_name(event.data)},
        ("person_id",),
    )


def on_person_updated(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    on_person_registered(conn, t, event)
    person_id = _id(event.data, "person_id")
    conn.execute(
        update(t.project_dashboards)
        .where(t.project_dashboards.c.manager_id == person_id)
        .values(manager_name=person_name(event.data), updated_at=event.recorded_at)
    )
    team = t.project_dashboards__team
    for project_id in (
        conn.execute(select(team.c.project_id).where(team.c.person_id == person_id)).scalars().all()
    ):
        _refresh_team(conn, t, project_id, event.recorded_at)


def on_project_created(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    client_id, manager_id = _id(data, "client_id"), _id(data, "manager_id")
    upsert(
        conn,
        t.project_dashboards,
        {
            "project_id": _id(data, "project_id"),
            "name": data["name"],
            "status": "open",
            "archived": False,
            "client_id": client_id,
            "client_name": _lookup_name(
                conn, t.project_dashboards__clients, "client_id", client_id
            ),
            "manager_id": manager_id,
            "manager_name": _lookup_name(
                conn, t.project_dashboards__people, "person_id", manager_id
            ),
            "start_date": dt.date.fromisoformat(data["start_date"]),
            "end_date": dt.date.fromisoformat(data["end_date"]) if data["end_date"] else None,
            "budget_cents": data["budget_cents"],
            "total_hundredths": 0,
            "billable_hundredths": 0,
            "billed_cents": 0,
            "total_cost_cents": 0,
            "budget_used_pct": percent(0, data["budget_cents"]),
            "active_task_count": 0,
            "completed_task_count": 0,
            "team": [],
            "updated_at": event.recorded_at,
        },
        ("project_id",),
    )


def _dashboard(conn: Connection, t: TableSet, project_id: uuid.UUID) -> Any:
    return conn.execute(
        select(t.project_dashboards).where(t.project_dashboards.c.project_id == project_id)
    ).one()


def _set(conn: Connection, t: TableSet, project_id: uuid.UUID, **values: Any) -> None:
    conn.execute(
        update(t.project_dashboards)
        .where(t.project_dashboards.c.project_id == project_id)
        .values(values)
    )


def on_project_updated(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    project_id, manager_id = _id(data, "project_id"), _id(data, "manager_id")
    row = _dashboard(conn, t, project_id)
    _set(
        conn,
        t,
        project_id,
        name=data["name"],
        manager_id=manager_id,
        manager_name=_lookup_name(conn, t.project_dashboards__people, "person_id", manager_id),
        end_date=dt.date.fromisoformat(data["end_date"]) if data["end_date"] else None,
        budget_cents=data["budget_cents"],
        budget_used_pct=percent(row.billed_cents, data["budget_cents"]),
        updated_at=event.recorded_at,
    )


def on_project_closed(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    _set(conn, t, _id(event.data, "project_id"), status="closed", updated_at=event.recorded_at)


def on_project_reopened(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    _set(conn, t, _id(event.data, "project_id"), status="open", updated_at=event.recorded_at)


def on_project_archived(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    _set(conn, t, _id(event.data, "project_id"), archived=True, updated_at=event.recorded_at)


def on_project_restored(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    _set(conn, t, _id(event.data, "project_id"), archived=False, updated_at=event.recorded_at)


def on_member_added(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    project_id = _id(data, "project_id")
    upsert(
        conn,
        t.project_dashboards__team,
        {
            "project_id": project_id,
            "person_id": _id(data, "person_id"),
            "role": data["role"],
            "bill_rate_cents": data["bill_rate_cents"],
        },
        ("project_id", "person_id"),
    )
    _refresh_team(conn, t, project_id, event.recorded_at)


def on_member_removed(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    project_id = _id(event.data, "project_id")
    team = t.project_dashboards__team
    conn.execute(
        delete(team).where(
            team.c.project_id == project_id, team.c.person_id == _id(event.data, "person_id")
        )
    )
    _refresh_team(conn, t, project_id, event.recorded_at)


def team_json(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The team as the dashboard shows it, ordered by name (then id)."""
    return sorted(
        (
            {
                "person_id": str(m["person_id"]),
                "name": m["name"],
                "role": m["role"],
                "bill_rate_cents": m["bill_rate_cents"],
            }
            for m in members
        ),
        key=lambda m: (m["name"], m["person_id"]),
    )


def _refresh_team(conn: Connection, t: TableSet, project_id: uuid.UUID, at: dt.datetime) -> None:
    team, people = t.project_dashboards__team, t.project_dashboards__people
    members = conn.execute(
        select(team.c.person_id, people.c.name, team.c.role, team.c.bill_rate_cents)
        .join(people, people.c.person_id == team.c.person_id)
        .where(team.c.project_id == project_id)
    )
    _set(conn, t, project_id, team=team_json([dict(m._mapping) for m in members]), updated_at=at)


def _count_tasks(
    conn: Connection, t: TableSet, event: RecordedEvent, active: int, completed: int
) -> None:
    board = t.project_dashboards
    conn.execute(
        update(board)
        .where(board.c.project_id == _id(event.data, "project_id"))
        .values(
            active_task_count=board.c.active_task_count + active,
            completed_task_count=board.c.completed_task_count + completed,
            updated_at=event.recorded_at,
        )
    )


def on_task_added(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    _count_tasks(conn, t, event, 1, 0)


def on_task_completed(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    _count_tasks(conn, t, event, -1, 1)


def on_task_reopened(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    _count_tasks(conn, t, event, 1, -1)


class ProjectTotals:
    """Folds time-entry changes into per-project differences of hours and billed amounts."""

    def __init__(self) -> None:
        self.deltas: dict[uuid.UUID, list[int]] = {}
        self.at: dict[uuid.UUID, dt.datetime] = {}

    def add(self, event: RecordedEvent) -> None:
        project_id = _id(event.data, "project_id")
        delta = self.deltas.setdefault(project_id, [0, 0, 0, 0])
        for _snapshot, change in changes(event.data):
            delta[0] += change.hundredths
            delta[1] += change.billable_hundredths
            delta[2] += change.billed_cents
            delta[3] += change.cost_cents
        self.at[project_id] = event.recorded_at

    def flush(self, conn: Connection, t: TableSet) -> None:
        board = t.project_dashboards
        touched = [project_id for project_id, delta in self.deltas.items() if any(delta)]
        if not touched:
            return
        current = conn.execute(
            select(
                board.c.project_id,
                board.c.total_hundredths,
                board.c.billable_hundredths,
                board.c.billed_cents,
                board.c.total_cost_cents,
                board.c.budget_cents,
            ).where(board.c.project_id.in_(touched))
        )
        updates = []
        for row in current:
            total, billable, billed, cost = self.deltas[row.project_id]
            billed += row.billed_cents
            updates.append(
                {
                    "key": row.project_id,
                    "total_hundredths": row.total_hundredths + total,
                    "billable_hundredths": row.billable_hundredths + billable,
                    "billed_cents": billed,
                    "total_cost_cents": row.total_cost_cents + cost,
                    "budget_used_pct": percent(billed, row.budget_cents),
                    "updated_at": self.at[row.project_id],
                }
            )
        if len(updates) != len(touched):
            raise LookupError(f"time logged on projects without a dashboard: {touched}")
        conn.execute(_totals_update(board, tuple(updates[0])), updates)


@functools.lru_cache(maxsize=16)  # live tables, and the shadows of recent rebuilds
def _totals_update(board: Table, names: tuple[str, ...]) -> Any:
    return (
        update(board)
        .where(board.c.project_id == bindparam("key"))
        .values({name: bindparam(name) for name in names if name != "key"})
    )


projection = Projection(
    name="project_dashboards",
    version=3,
    tables=(
        tables.project_dashboards,
        tables.project_dashboards__clients,
        tables.project_dashboards__people,
        tables.project_dashboards__team,
    ),
    handlers={
        events.ClientRegistered: on_client_registered,
        events.ClientRenamed: on_client_renamed,
        events.PersonRegistered: on_person_registered,
        events.PersonUpdated: on_person_updated,
        events.ProjectCreated: on_project_created,
        events.ProjectUpdated: on_project_updated,
        events.ProjectClosed: on_project_closed,
        events.ProjectReopened: on_project_reopened,
        events.ProjectArchived: on_project_archived,
        events.ProjectRestored: on_project_restored,
        events.MemberAdded: on_member_added,
        events.MemberUpdated: on_member_added,
        events.MemberRemoved: on_member_removed,
        events.TaskAdded: on_task_added,
        events.TaskCompleted: on_task_completed,
        events.TaskReopened: on_task_reopened,
    },
    key=key_by("project_id"),
    critical_events=frozenset({events.ProjectCreated}),
    fold=ProjectTotals,
    folded=TIME_ENTRY_EVENTS,
)

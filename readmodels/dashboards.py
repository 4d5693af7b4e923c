"""project_dashboards: one row per project, for the dashboard and the project list."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import Connection, select, update

from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.projection import Projection, TableSet, key_by, upsert


def budget_used_pct(billed_cents: int, budget_cents: int) -> Decimal:
    if budget_cents == 0:
        return Decimal("0.0")
    return (Decimal(billed_cents * 100) / Decimal(budget_cents)).quantize(Decimal("0.1"))


def _person_name(data: dict[str, str]) -> str:
    return f"{data['first_name']} {data['last_name']}"


def on_client_registered(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    client_id = uuid.UUID(event.data["client_id"])
    upsert(
        conn,
        t.project_dashboards__clients,
        {"client_id": client_id, "name": event.data["name"]},
        ("client_id",),
    )


def on_client_renamed(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    on_client_registered(conn, t, event)
    conn.execute(
        update(t.project_dashboards)
        .where(t.project_dashboards.c.client_id == uuid.UUID(event.data["client_id"]))
        .values(client_name=event.data["name"], updated_at=event.recorded_at)
    )


def on_person_registered(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    person_id = uuid.UUID(event.data["person_id"])
    upsert(
        conn,
        t.project_dashboards__people,
        {"person_id": person_id, "name": _person_name(event.data)},
        ("person_id",),
    )


def on_project_created(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    client_id = uuid.UUID(data["client_id"])
    manager_id = uuid.UUID(data["manager_id"])
    client_name = conn.execute(
        select(t.project_dashboards__clients.c.name).where(
            t.project_dashboards__clients.c.client_id == client_id
        )
    ).scalar_one()
    manager_name = conn.execute(
        select(t.project_dashboards__people.c.name).where(
            t.project_dashboards__people.c.person_id == manager_id
        )
    ).scalar_one()
    upsert(
        conn,
        t.project_dashboards,
        {
            "project_id": uuid.UUID(data["project_id"]),
            "name": data["name"],
            "status": "open",
            "client_id": client_id,
            "client_name": client_name,
            "manager_id": manager_id,
            "manager_name": manager_name,
            "start_date": dt.date.fromisoformat(data["start_date"]),
            "end_date": dt.date.fromisoformat(data["end_date"]) if data["end_date"] else None,
            "budget_cents": data["budget_cents"],
            "total_hundredths": 0,
            "billable_hundredths": 0,
            "billed_cents": 0,
            "budget_used_pct": budget_used_pct(0, data["budget_cents"]),
            "active_task_count": 0,
            "completed_task_count": 0,
            "team": [],
            "updated_at": event.recorded_at,
        },
        ("project_id",),
    )


projection = Projection(
    name="project_dashboards",
    version=1,
    tables=(
        tables.project_dashboards,
        tables.project_dashboards__clients,
        tables.project_dashboards__people,
    ),
    handlers={
        "ClientRegistered": on_client_registered,
        "ClientRenamed": on_client_renamed,
        "PersonRegistered": on_person_registered,
        "ProjectCreated": on_project_created,
    },
    key=key_by("project_id"),
    critical_event_types=frozenset({"ProjectCreated"}),
)

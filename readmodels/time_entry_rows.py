"""time_entry_rows: one row per entry with its person, project, client and task names."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, delete, select, update

from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.dashboards import person_name
from readmodels.projection import Projection, TableSet, key_by, upsert


def _id(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _name(conn: Connection, table: Any, key: str, value: uuid.UUID | None) -> str | None:
    if value is None:
        return None
    return conn.execute(select(table.c.name).where(table.c[key] == value)).scalar_one()


def _rename(conn: Connection, t: TableSet, column: str, key: uuid.UUID, name: str) -> None:
    rows = t.time_entry_rows
    conn.execute(update(rows).where(rows.c[f"{column}_id"] == key).values({f"{column}_name": name}))


def on_client(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    client_id = uuid.UUID(event.data["client_id"])
    upsert(
        conn,
        t.time_entry_rows__clients,
        {"client_id": client_id, "name": event.data["name"]},
        ("client_id",),
    )
    if event.event_type == "ClientRenamed":
        _rename(conn, t, "client", client_id, event.data["name"])


def on_person(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    person_id = uuid.UUID(event.data["person_id"])
    name = person_name(event.data)
    upsert(conn, t.time_entry_rows__people, {"person_id": person_id, "name": name}, ("person_id",))
    if event.event_type == "PersonUpdated":
        _rename(conn, t, "person", person_id, name)


def on_project(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    project_id = uuid.UUID(event.data["project_id"])
    upsert(
        conn,
        t.time_entry_rows__projects,
        {"project_id": project_id, "name": event.data["name"]},
        ("project_id",),
    )
    if event.event_type == "ProjectUpdated":
        _rename(conn, t, "project", project_id, event.data["name"])


def on_task_added(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    upsert(
        conn,
        t.time_entry_rows__tasks,
        {"task_id": uuid.UUID(event.data["task_id"]), "name": event.data["name"]},
        ("task_id",),
    )


def _entry_values(conn: Connection, t: TableSet, after: dict[str, Any]) -> dict[str, Any]:
    task_id = _id(after["task_id"])
    return {
        "date": dt.date.fromisoformat(after["date"]),
        "hours_hundredths": after["hours_hundredths"],
        "billable": after["billable"],
        "amount_cents": after["amount_cents"],
        "status": after["status"],
        "notes": after["notes"],
        "task_id": task_id,
        "task_name": _name(conn, t.time_entry_rows__tasks, "task_id", task_id),
    }


def on_time_logged(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    person_id, project_id = uuid.UUID(data["person_id"]), uuid.UUID(data["project_id"])
    client_id = uuid.UUID(data["client_id"])
    upsert(
        conn,
        t.time_entry_rows,
        {
            "id": uuid.UUID(data["entry_id"]),
            "person_id": person_id,
            "person_name": _name(conn, t.time_entry_rows__people, "person_id", person_id),
            "project_id": project_id,
            "project_name": _name(conn, t.time_entry_rows__projects, "project_id", project_id),
            "client_id": client_id,
            "client_name": _name(conn, t.time_entry_rows__clients, "client_id", client_id),
        }
        | _entry_values(conn, t, data["after"]),
        ("id",),
    )


def on_time_entry_changed(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    rows = t.time_entry_rows
    conn.execute(
        update(rows)
        .where(rows.c.id == uuid.UUID(event.data["entry_id"]))
        .values(_entry_values(conn, t, event.data["after"]))
    )


def on_time_entry_deleted(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    rows = t.time_entry_rows
    conn.execute(delete(rows).where(rows.c.id == uuid.UUID(event.data["entry_id"])))


projection = Projection(
    name="time_entry_rows",
    version=1,
    tables=(
        tables.time_entry_rows,
        tables.time_entry_rows__people,
        tables.time_entry_rows__projects,
        tables.time_entry_rows__clients,
        tables.time_entry_rows__tasks,
    ),
    handlers={
        "ClientRegistered": on_client,
        "ClientRenamed": on_client,
        "PersonRegistered": on_person,
        "PersonUpdated": on_person,
        "ProjectCreated": on_project,
        "ProjectUpdated": on_project,
        "TaskAdded": on_task_added,
        "TimeLogged": on_time_logged,
        "TimeEntryAmended": on_time_entry_changed,
        "TimeEntryApproved": on_time_entry_changed,
        "TimeEntryRejected": on_time_entry_changed,
        "TimeEntryDeleted": on_time_entry_deleted,
    },
    key=key_by("project_id"),
)

"""time_entry_rows: one row per entry with its person, project, client and task names."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.dashboards import TIME_ENTRY_EVENTS, person_name
from readmodels.projection import Projection, TableSet, key_by, upsert


def _id(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


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


class EntryRows:
    """Folds a run of entry events into each entry's final state: new rows (with the names
    they copy), field changes to existing rows, and deletions."""

    def __init__(self) -> None:
        self.new: dict[uuid.UUID, dict[str, Any]] = {}
        self.changed: dict[uuid.UUID, dict[str, Any]] = {}
        self.deleted: set[uuid.UUID] = set()

    def add(self, event: RecordedEvent) -> None:
        data = event.data
        entry_id = uuid.UUID(data["entry_id"])
        if event.event_type == "TimeEntryDeleted":
            self.new.pop(entry_id, None)
            self.changed.pop(entry_id, None)
            self.deleted.add(entry_id)
            return
        fields = _entry_fields(data["after"])
        if event.event_type == "TimeLogged":
            self.deleted.discard(entry_id)
            self.new[entry_id] = {
                "id": entry_id,
                "person_id": uuid.UUID(data["person_id"]),
                "project_id": uuid.UUID(data["project_id"]),
                "client_id": uuid.UUID(data["client_id"]),
            } | fields
        elif entry_id in self.new:
            self.new[entry_id] |= fields
        else:
            self.changed[entry_id] = fields

    def flush(self, conn: Connection, t: TableSet) -> None:
        rows = t.time_entry_rows
        tasks = _names(
            conn,
            t.time_entry_rows__tasks,
            "task_id",
            {r["task_id"] for r in [*self.new.values(), *self.changed.values()]},
        )
        if self.new:
            new = list(self.new.values())
            people = _names(
                conn, t.time_entry_rows__people, "person_id", {r["person_id"] for r in new}
            )
            projects = _names(
                conn, t.time_entry_rows__projects, "project_id", {r["project_id"] for r in new}
            )
            clients = _names(
                conn, t.time_entry_rows__clients, "client_id", {r["client_id"] for r in new}
            )
            values = [
                row
                | {
                    "person_name": people[row["person_id"]],
                    "project_name": projects[row["project_id"]],
                    "client_name": clients[row["client_id"]],
                    "task_name": tasks.get(row["task_id"]),
                }
                for row in new
            ]
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(rows)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["id"],
                    set_={name: statement.excluded[name] for name in values[0] if name != "id"},
                ),
                values,
            )
        if self.changed:
            updates = [
                {"key": entry_id, **fields, "task_name": tasks.get(fields["task_id"])}
                for entry_id, fields in self.changed.items()
            ]
            conn.execute(
                update(rows)
                .where(rows.c.id == bindparam("key"))
                .values({name: bindparam(name) for name in updates[0] if name != "key"}),
                updates,
            )
        if self.deleted:
            conn.execute(delete(rows).where(rows.c.id.in_(self.deleted)))


def _entry_fields(after: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": dt.date.fromisoformat(after["date"]),
        "hours_hundredths": after["hours_hundredths"],
        "billable": after["billable"],
        "amount_cents": after["amount_cents"],
        "status": after["status"],
        "notes": after["notes"],
        "task_id": _id(after["task_id"]),
    }


def _names(conn: Connection, table: Any, key: str, ids: set[Any]) -> dict[Any, str]:
    wanted = [value for value in ids if value is not None]
    if not wanted:
        return {}
    found = dict(
        conn.execute(select(table.c[key], table.c.name).where(table.c[key].in_(wanted))).all()
    )
    if len(found) != len(wanted):
        raise LookupError(f"{table.name} has no row for {set(wanted) - set(found)}")
    return found


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
    },
    key=key_by("project_id"),
    fold=EntryRows,
    folded=TIME_ENTRY_EVENTS,
)

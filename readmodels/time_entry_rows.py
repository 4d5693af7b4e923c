"""time_entry_rows: one row per entry with its person, project, client and task names."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select, update

from domain import events
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.contributions import TIME_ENTRY_EVENTS
from readmodels.dashboards import person_name
from readmodels.projection import Projection, TableSet, conflict_insert, key_by, upsert


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
    if event.event_type == events.ClientRenamed.event_type:
        _rename(conn, t, "client", client_id, event.data["name"])


def on_person(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    person_id = uuid.UUID(event.data["person_id"])
    name = person_name(event.data)
    upsert(conn, t.time_entry_rows__people, {"person_id": person_id, "name": name}, ("person_id",))
    if event.event_type == events.PersonUpdated.event_type:
        _rename(conn, t, "person", person_id, name)


def on_project(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    project_id = uuid.UUID(event.data["project_id"])
    upsert(
        conn,
        t.time_entry_rows__projects,
        {"project_id": project_id, "name": event.data["name"]},
        ("project_id",),
    )
    if event.event_type == events.ProjectUpdated.event_type:
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
        if event.event_type == events.TimeEntryDeleted.event_type:
            self.new.pop(entry_id, None)
            self.changed.pop(entry_id, None)
            self.deleted.add(entry_id)
            return
        # Only a rejection leaves an entry rejected; any later change clears the reason.
        reason = (
            data.get("reason") if event.event_type == events.TimeEntryRejected.event_type else None
        )
        fields = _entry_fields(data["after"]) | {"rejection_reason": reason}
        if event.event_type == events.TimeLogged.event_type:
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
        if self.new:
            _insert_rows(conn, t, list(self.new.values()))
        if self.changed:
            tasks = _task_names(conn, t.time_entry_rows__tasks, self.changed.values())
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


def _insert_rows(conn: Connection, t: TableSet, new: list[dict[str, Any]]) -> None:
    """Write new rows in one statement, with the names they copy read by it."""
    statement = _insert_statement(
        conn.dialect.name,
        t.time_entry_rows,
        (
            t.time_entry_rows__people,
            t.time_entry_rows__projects,
            t.time_entry_rows__clients,
            t.time_entry_rows__tasks,
        ),
    )
    written = conn.execute(statement, new).all()
    # A name found nowhere is a NULL the table refuses, but a task's name may be NULL.
    tasks = {row.task_id for row in written if row.task_id is not None and row.task_name is None}
    if tasks:
        raise LookupError(f"{t.time_entry_rows__tasks.name} has no row for {tasks}")


@functools.lru_cache(maxsize=16)  # live tables, and the shadows of recent rebuilds
def _insert_statement(dialect_name: str, rows: Table, lookups: tuple[Table, ...]) -> Any:
    """Insert rows (or replace those with the same id), each copying the name of its person,
    project, client and task from the lookups."""
    given = {
        name: bindparam(name, type_=rows.c[name].type)
        for name in ("id", "person_id", "project_id", "client_id", *ENTRY_FIELDS)
    }
    names = {}
    for lookup in lookups:
        key = lookup.primary_key.columns[0]
        subject = key.name.removesuffix("_id")
        names[f"{subject}_name"] = (
            select(lookup.c.name).where(key == given[key.name]).scalar_subquery()
        )
    statement = conflict_insert(dialect_name, rows).values(**given, **names)
    upsert = statement.on_conflict_do_update(
        index_elements=["id"],
        set_={name: statement.excluded[name] for name in (*given, *names) if name != "id"},
    )
    return upsert.returning(rows.c.task_id, rows.c.task_name)


def _task_names(
    conn: Connection, tasks: Table, changed: Iterable[dict[str, Any]]
) -> dict[uuid.UUID, str]:
    wanted = {fields["task_id"] for fields in changed if fields["task_id"] is not None}
    if not wanted:
        return {}
    found: dict[uuid.UUID, str] = dict(
        conn.execute(select(tasks.c.task_id, tasks.c.name).where(tasks.c.task_id.in_(wanted))).all()
    )
    if len(found) != len(wanted):
        raise LookupError(f"{tasks.name} has no row for {wanted - set(found)}")
    return found


ENTRY_FIELDS = (
    "date",
    "hours_hundredths",
    "billable",
    "value_cents",
    "billable_amount_cents",
    "status",
    "notes",
    "task_id",
    "rejection_reason",
)


def _entry_fields(after: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": dt.date.fromisoformat(after["date"]),
        "hours_hundredths": after["hours_hundredths"],
        "billable": after["billable"],
        "value_cents": after["amount_cents"],
        "billable_amount_cents": after["amount_cents"] if after["billable"] else 0,
        "status": after["status"],
        "notes": after["notes"],
        "task_id": _id(after["task_id"]),
    }


projection = Projection(
    name="time_entry_rows",
    version=3,  # 2: value and billable_amount; 3: rejection_reason
    tables=(
        tables.time_entry_rows,
        tables.time_entry_rows__people,
        tables.time_entry_rows__projects,
        tables.time_entry_rows__clients,
        tables.time_entry_rows__tasks,
    ),
    handlers={
        events.ClientRegistered: on_client,
        events.ClientRenamed: on_client,
        events.PersonRegistered: on_person,
        events.PersonUpdated: on_person,
        events.ProjectCreated: on_project,
        events.ProjectUpdated: on_project,
        events.TaskAdded: on_task_added,
    },
    key=key_by("project_id"),
    fold=EntryRows,
    folded=TIME_ENTRY_EVENTS,
)

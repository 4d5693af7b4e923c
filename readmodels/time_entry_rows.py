"""time_entry_rows: one row per entry with its person, project, client and task names."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, literal, select, union_all, update

from domain import events
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.contributions import TIME_ENTRY_EVENTS
from readmodels.dashboards import person_name
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
        new = list(self.new.values())
        # Every name the rows copy, in one round trip.
        tasks, people, projects, clients = _names(
            conn,
            [
                (t.time_entry_rows__tasks, "task_id", [*new, *self.changed.values()]),
                (t.time_entry_rows__people, "person_id", new),
                (t.time_entry_rows__projects, "project_id", new),
                (t.time_entry_rows__clients, "client_id", new),
            ],
        )
        if new:
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
            upsert(conn, rows, values, ("id",))
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
        "value_cents": after["amount_cents"],
        "billable_amount_cents": after["amount_cents"] if after["billable"] else 0,
        "status": after["status"],
        "notes": after["notes"],
        "task_id": _id(after["task_id"]),
    }


def _names(
    conn: Connection, lookups: list[tuple[Table, str, list[dict[str, Any]]]]
) -> list[dict[Any, str]]:
    """For each (lookup table, key column, rows): the name of every key the rows carry."""
    wanted = [{row[key] for row in rows if row[key] is not None} for _table, key, rows in lookups]
    queries = [
        select(literal(index), table.c[key], table.c.name).where(table.c[key].in_(ids))
        for index, ((table, key, _rows), ids) in enumerate(zip(lookups, wanted, strict=True))
        if ids
    ]
    found: list[dict[Any, str]] = [{} for _ in lookups]
    if queries:
        statement = queries[0] if len(queries) == 1 else union_all(*queries)
        for index, key, name in conn.execute(statement):
            found[index][key] = name
    for (table, _key, _rows), ids, names in zip(lookups, wanted, found, strict=True):
        if len(names) != len(ids):
            raise LookupError(f"{table.name} has no row for {ids - set(names)}")
    return found


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

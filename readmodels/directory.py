"""directory: clients, people and tasks to look up, and who works on which project."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, delete, update

from domain import events
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.dashboards import person_name
from readmodels.projection import Handler, Projection, TableSet, conflict_insert, key_by, upsert


def name_key(name: str) -> str:
    return name.lower()


def _id(event: RecordedEvent, field: str) -> uuid.UUID:
    return uuid.UUID(event.data[field])


def on_client(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    name = event.data["name"]
    upsert(
        conn,
        t.directory_clients,
        {"client_id": _id(event, "client_id"), "name": name, "name_key": name_key(name)},
        ("client_id",),
    )


def on_person_registered(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    name = person_name(data)
    upsert(
        conn,
        t.directory_people,
        {
            "person_id": _id(event, "person_id"),
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "name": name,
            "name_key": name_key(name),
            "email": data["email"],
            "role": data["role"],
            "weekly_capacity_hundredths": data["weekly_capacity_hundredths"],
        },
        ("person_id",),
    )


def on_person_updated(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    name = person_name(data)
    people = t.directory_people
    conn.execute(
        update(people)
        .where(people.c.person_id == _id(event, "person_id"))
        .values(
            first_name=data["first_name"],
            last_name=data["last_name"],
            name=name,
            name_key=name_key(name),
            weekly_capacity_hundredths=data["weekly_capacity_hundredths"],
        )
    )


def on_project(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    upsert(
        conn,
        t.directory_projects,
        {"project_id": _id(event, "project_id"), "manager_id": _id(event, "manager_id")},
        ("project_id",),
    )


def on_member_added(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    insert = conflict_insert(conn.dialect.name, t.directory_members).on_conflict_do_nothing()
    conn.execute(
        insert, {"project_id": _id(event, "project_id"), "person_id": _id(event, "person_id")}
    )


def on_member_removed(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    members = t.directory_members
    conn.execute(
        delete(members).where(
            members.c.project_id == _id(event, "project_id"),
            members.c.person_id == _id(event, "person_id"),
        )
    )


def on_task_added(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    name = event.data["name"]
    upsert(
        conn,
        t.directory_tasks,
        {
            "task_id": _id(event, "task_id"),
            "project_id": _id(event, "project_id"),
            "name": name,
            "name_key": name_key(name),
            "estimate_hundredths": event.data["estimate_hundredths"],
            "completed": False,
        },
        ("task_id",),
    )


def _task_completed(completed: bool) -> Handler:
    def handler(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
        tasks = t.directory_tasks
        conn.execute(
            update(tasks)
            .where(tasks.c.task_id == _id(event, "task_id"))
            .values(completed=completed)
        )

    return handler


projection = Projection(
    name="directory",
    version=1,
    tables=(
        tables.directory_clients,
        tables.directory_people,
        tables.directory_projects,
        tables.directory_members,
        tables.directory_tasks,
    ),
    handlers={
        events.ClientRegistered: on_client,
        events.ClientRenamed: on_client,
        events.PersonRegistered: on_person_registered,
        events.PersonUpdated: on_person_updated,
        events.ProjectCreated: on_project,
        events.ProjectUpdated: on_project,
        events.MemberAdded: on_member_added,
        events.MemberRemoved: on_member_removed,
        events.TaskAdded: on_task_added,
        events.TaskCompleted: _task_completed(True),
        events.TaskReopened: _task_completed(False),
    },
    key=key_by("person_id"),
    # A client, person or task is readable as soon as the command that made it answers.
    critical_events=frozenset({events.ClientRegistered, events.PersonRegistered, events.TaskAdded}),
)

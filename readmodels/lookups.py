"""Lookups: clients, people and tasks from the directory, one time entry from its rows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, Select, literal, select, union

from readmodels.queries import Page, _page, at_checkpoint, with_checkpoint
from readmodels.tables import (
    directory_clients,
    directory_members,
    directory_people,
    directory_projects,
    directory_tasks,
    time_entry_rows,
)

Row = tuple[dict[str, Any] | None, int]


def _by_name(query: Select[Any], name_key: Any, prefix: str | None) -> Select[Any]:
    if prefix:
        return query.where(name_key.startswith(prefix.lower(), autoescape=True))
    return query


def _one(conn: Connection, query: Select[Any], projection: str) -> Row:
    rows, position = at_checkpoint(conn, with_checkpoint(query, projection), projection)
    return (rows[0] if rows else None), position


def clients(conn: Connection, *, name: str | None, limit: int, cursor: str | None) -> Page:
    t = directory_clients
    query = _by_name(select(t), t.c.name_key, name)
    order = [t.c.name_key, t.c.client_id]
    return _page(conn, query, order, [str, uuid.UUID], limit, cursor, False, "directory")


def client(conn: Connection, client_id: uuid.UUID) -> Row:
    t = directory_clients
    return _one(conn, select(t).where(t.c.client_id == client_id), "directory")


def teammates(person_id: uuid.UUID) -> Any:
    """The person and everyone who works on a project with them (member or manager)."""
    members, projects = directory_members, directory_projects
    their_projects = union(
        select(members.c.project_id).where(members.c.person_id == person_id),
        select(projects.c.project_id).where(projects.c.manager_id == person_id),
    )
    return union(
        select(literal(person_id, directory_people.c.person_id.type)),
        select(members.c.person_id).where(members.c.project_id.in_(their_projects)),
        select(projects.c.manager_id).where(projects.c.project_id.in_(their_projects)),
    )


def people(
    conn: Connection,
    *,
    name: str | None,
    visible_to: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """People by name; visible_to keeps only that person's teammates (what members see)."""
    t = directory_people
    query = _by_name(select(t), t.c.name_key, name)
    if visible_to is not None:
        query = query.where(t.c.person_id.in_(teammates(visible_to)))
    order = [t.c.name_key, t.c.person_id]
    return _page(conn, query, order, [str, uuid.UUID], limit, cursor, False, "directory")


def person(conn: Connection, person_id: uuid.UUID, visible_to: uuid.UUID | None) -> Row:
    t = directory_people
    query = select(t).where(t.c.person_id == person_id)
    if visible_to is not None:
        query = query.where(t.c.person_id.in_(teammates(visible_to)))
    return _one(conn, query, "directory")


def project_team(conn: Connection, project_id: uuid.UUID) -> set[uuid.UUID] | None:
    """The project's manager and members; None when the directory has no such project."""
    manager_id = conn.execute(
        select(directory_projects.c.manager_id).where(directory_projects.c.project_id == project_id)
    ).scalar_one_or_none()
    if manager_id is None:
        return None
    members = directory_members
    found = conn.execute(select(members.c.person_id).where(members.c.project_id == project_id))
    return {manager_id, *found.scalars()}


def tasks(
    conn: Connection, project_id: uuid.UUID, *, name: str | None, limit: int, cursor: str | None
) -> Page:
    t = directory_tasks
    query = _by_name(select(t).where(t.c.project_id == project_id), t.c.name_key, name)
    order = [t.c.name_key, t.c.task_id]
    return _page(conn, query, order, [str, uuid.UUID], limit, cursor, False, "directory")


def time_entry(conn: Connection, entry_id: uuid.UUID) -> Row:
    t = time_entry_rows
    return _one(conn, select(t).where(t.c.id == entry_id), "time_entry_rows")

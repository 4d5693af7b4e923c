"""Who may do what to which object. A caller who may not even see an object gets 404."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, select

from api.auth import Caller
from api.errors import Problem
from domain import errors
from domain.model import Role
from domain.store import tables


@dataclass(frozen=True)
class ProjectTeam:
    manager_id: uuid.UUID
    member_ids: frozenset[uuid.UUID]

    def includes(self, person_id: uuid.UUID) -> bool:
        return person_id == self.manager_id or person_id in self.member_ids


def project_team(engine: Engine, project_id: uuid.UUID) -> ProjectTeam | None:
    with engine.connect() as conn:
        manager_id = conn.execute(
            select(tables.projects.c.manager_id).where(tables.projects.c.id == project_id)
        ).scalar_one_or_none()
        if manager_id is None:
            return None
        members = conn.execute(
            select(tables.project_members.c.person_id).where(
                tables.project_members.c.project_id == project_id
            )
        ).scalars()
        return ProjectTeam(manager_id, frozenset(members))


def can_see_project(caller: Caller, team: ProjectTeam) -> bool:
    return caller.role in (Role.ADMIN, Role.MANAGER) or team.includes(caller.person_id)


def require_visible_project(engine: Engine, caller: Caller, project_id: uuid.UUID) -> None:
    """A project the caller may not read is answered as if it did not exist (the answer a
    command gives for a missing project), so that no error names it or tells its state."""
    if caller.role != Role.MEMBER:
        return
    team = project_team(engine, project_id)
    if team is None or not can_see_project(caller, team):
        raise errors.InvalidReference("project_id", f"no project {project_id}")


def require_project_manager(engine: Engine, caller: Caller, project_id: uuid.UUID) -> None:
    """Admins and the project's own manager pass; others get 403, or 404 if they can't see it."""
    team = project_team(engine, project_id)
    if team is None or not can_see_project(caller, team):
        raise Problem(404, f"No project {project_id}.")
    if not (caller.is_admin or team.manager_id == caller.person_id):
        raise Problem(403, "Only an admin or the project's manager may do this.")


def require_task_manager(engine: Engine, caller: Caller, task_id: uuid.UUID) -> uuid.UUID:
    """The task's project, for an admin or its manager; 404 naming only the task for a caller
    who may not see the project (its id is not theirs to learn), 403 for one who may."""
    with engine.connect() as conn:
        project_id = conn.execute(
            select(tables.tasks.c.project_id).where(tables.tasks.c.id == task_id)
        ).scalar_one_or_none()
    team = None if project_id is None else project_team(engine, project_id)
    if project_id is None or team is None or not can_see_project(caller, team):
        raise Problem(404, f"No task {task_id}.")
    if not (caller.is_admin or team.manager_id == caller.person_id):
        raise Problem(403, "Only an admin or the project's manager may do this.")
    return project_id


@dataclass(frozen=True)
class EntryOwners:
    person_id: uuid.UUID
    project_id: uuid.UUID
    manager_id: uuid.UUID


def entry_owners(engine: Engine, caller: Caller, entry_id: uuid.UUID) -> EntryOwners:
    """The entry's person and project; 404 when the caller may not see the entry at all."""
    entries, projects = tables.time_entries, tables.projects
    with engine.connect() as conn:
        row = conn.execute(
            select(entries.c.person_id, entries.c.project_id, projects.c.manager_id)
            .join(projects, projects.c.id == entries.c.project_id)
            .where(entries.c.id == entry_id)
        ).one_or_none()
    if row is None or (caller.role == Role.MEMBER and row.person_id != caller.person_id):
        raise Problem(404, f"No time entry {entry_id}.")
    return EntryOwners(row.person_id, row.project_id, row.manager_id)


def require_entry_owner(engine: Engine, caller: Caller, entry_id: uuid.UUID) -> None:
    owners = entry_owners(engine, caller, entry_id)
    if not (caller.is_admin or owners.person_id == caller.person_id):
        raise Problem(403, "Only the entry's person or an admin may change it.")


def require_entry_approver(engine: Engine, caller: Caller, entry_id: uuid.UUID) -> None:
    owners = entry_owners(engine, caller, entry_id)
    if not (caller.is_admin or owners.manager_id == caller.person_id):
        raise Problem(403, "Only the project's manager or an admin may approve or reject.")

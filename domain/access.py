"""Who may do what to which aggregate, checked in the command's unit of work against the
aggregate it loads. A caller who may not even see an object is told it does not exist
(NotFound, worded as for a missing one), so that no answer names it or tells its state.

A command's `caller` is None for the system (demo data, the first admin, tests): no check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain import errors, model
from domain.unit_of_work import UnitOfWork

MANAGERS_ONLY = "Only an admin or the project's manager may do this."
OWNER_ONLY = "Only the entry's person or an admin may change it."
APPROVER_ONLY = "Only the project's manager or an admin may approve or reject."


@dataclass(frozen=True)
class Caller:
    """The person a command acts for, with their role."""

    person_id: uuid.UUID
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == model.Role.ADMIN


def can_see_project(caller: Caller, manager_id: uuid.UUID, member_ids: set[uuid.UUID]) -> bool:
    """Admins and managers see every project; a member those they are on."""
    return (
        caller.role in (model.Role.ADMIN, model.Role.MANAGER)
        or caller.person_id == manager_id
        or caller.person_id in member_ids
    )


def sees_project(caller: Caller | None, project: model.Project) -> bool:
    return caller is None or can_see_project(caller, project.manager_id, set(project.members))


def _manages(caller: Caller | None, project: model.Project) -> bool:
    return caller is None or caller.is_admin or project.manager_id == caller.person_id


def managed_project(
    uow: UnitOfWork, caller: Caller | None, project_id: uuid.UUID, *, for_update: bool = False
) -> model.Project:
    """The project, for an admin or its manager; Forbidden for another caller who may see it."""
    project = uow.projects.get(project_id, for_update=for_update)
    if project is None or not sees_project(caller, project):
        raise errors.NotFound(f"No project {project_id}.")
    if not _manages(caller, project):
        raise errors.Forbidden(MANAGERS_ONLY)
    return project


def managed_task_project(
    uow: UnitOfWork, caller: Caller | None, task_id: uuid.UUID, *, for_update: bool = False
) -> model.Project:
    """The task's project, for an admin or its manager; NotFound names only the task for a
    caller who may not see the project (its id is not theirs to learn)."""
    project = uow.projects.get_by_task(task_id, for_update=for_update)
    if project is None or not sees_project(caller, project):
        raise errors.NotFound(f"No task {task_id}.")
    if not _manages(caller, project):
        raise errors.Forbidden(MANAGERS_ONLY)
    return project


def _visible_entry(
    uow: UnitOfWork, caller: Caller | None, entry_id: uuid.UUID, for_update: bool
) -> model.TimeEntry:
    """A member sees their own entries only."""
    entry = uow.time_entries.get(entry_id, for_update=for_update)
    if entry is None or (
        caller is not None
        and caller.role == model.Role.MEMBER
        and entry.person_id != caller.person_id
    ):
        raise errors.NotFound(f"No time entry {entry_id}.")
    return entry


def owned_entry(
    uow: UnitOfWork, caller: Caller | None, entry_id: uuid.UUID, *, for_update: bool = False
) -> model.TimeEntry:
    """The entry, for its person or an admin."""
    entry = _visible_entry(uow, caller, entry_id, for_update)
    if caller is not None and not (caller.is_admin or entry.person_id == caller.person_id):
        raise errors.Forbidden(OWNER_ONLY)
    return entry


def reviewed_entry(
    uow: UnitOfWork, caller: Caller | None, entry_id: uuid.UUID, *, for_update: bool = False
) -> model.TimeEntry:
    """The entry, for an admin or its project's manager (who approve or reject it)."""
    entry = _visible_entry(uow, caller, entry_id, for_update)
    if caller is not None and not caller.is_admin:
        project = uow.projects.get(entry.project_id)
        if project is None or project.manager_id != caller.person_id:
            raise errors.Forbidden(APPROVER_ONLY)
    return entry


def check_may_log_on(
    caller: Caller | None, project_id: uuid.UUID, project: model.Project | None
) -> None:
    """A member logging time on a project they are not on gets the answer a missing project
    gets, not the domain's refusal naming the project or telling its state."""
    if (
        caller is not None
        and caller.role == model.Role.MEMBER
        and (project is None or not sees_project(caller, project))
    ):
        raise errors.InvalidReference("project_id", f"no project {project_id}")

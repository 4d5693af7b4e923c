"""Commands: small frozen dataclasses, named as imperatives. `caller`, on a command about a
project or a time entry: the person it acts for, whom the handler checks against what it
loads (domain/access.py); None for the system."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from domain.access import Caller


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class RegisterClient(Command):
    name: str


@dataclass(frozen=True)
class RenameClient(Command):
    client_id: uuid.UUID
    name: str
    expected_version: int | None = None


@dataclass(frozen=True)
class RegisterPerson(Command):
    first_name: str
    last_name: str
    email: str
    role: str
    weekly_capacity_hundredths: int = 4000
    default_bill_rate_cents: int | None = None
    cost_rate_cents: int | None = None
    token_hash: str | None = None


@dataclass(frozen=True)
class CreateProject(Command):
    name: str
    client_id: uuid.UUID
    manager_id: uuid.UUID
    start_date: dt.date
    budget_cents: int
    end_date: dt.date | None = None
    default_bill_rate_cents: int | None = None


@dataclass(frozen=True)
class UpdatePerson(Command):
    person_id: uuid.UUID
    changes: dict[str, object]
    expected_version: int | None = None


@dataclass(frozen=True)
class UpdateProject(Command):
    project_id: uuid.UUID
    changes: dict[str, object]
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class CloseProject(Command):
    project_id: uuid.UUID
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class ReopenProject(Command):
    project_id: uuid.UUID
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class AddMember(Command):
    project_id: uuid.UUID
    person_id: uuid.UUID
    role: str
    bill_rate_cents: int | None = None
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class RemoveMember(Command):
    project_id: uuid.UUID
    person_id: uuid.UUID
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class AddTask(Command):
    project_id: uuid.UUID
    name: str
    estimate_hundredths: int | None = None
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class CompleteTask(Command):
    task_id: uuid.UUID
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class ReopenTask(Command):
    task_id: uuid.UUID
    expected_version: int | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class SetLockDate(Command):
    """No entry dated on or before lock_date changes, except by an admin (None: unlock)."""

    lock_date: dt.date | None
    actor_id: uuid.UUID | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class LogTime(Command):
    """actor_id, here and on every time-entry command: who issues it (None: the system)."""

    project_id: uuid.UUID
    person_id: uuid.UUID
    date: dt.date
    hours_hundredths: int
    billable: bool
    task_id: uuid.UUID | None = None
    notes: str | None = None
    actor_id: uuid.UUID | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class AmendTimeEntry(Command):
    entry_id: uuid.UUID
    changes: dict[str, object]
    expected_version: int | None = None
    actor_id: uuid.UUID | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class DeleteTimeEntry(Command):
    entry_id: uuid.UUID
    expected_version: int | None = None
    actor_id: uuid.UUID | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class ApproveTimeEntry(Command):
    """actor_id: who approves (None: the system, which no review rule concerns)."""

    entry_id: uuid.UUID
    expected_version: int | None = None
    actor_id: uuid.UUID | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class RejectTimeEntry(Command):
    entry_id: uuid.UUID
    reason: str
    expected_version: int | None = None
    actor_id: uuid.UUID | None = None
    caller: Caller | None = None


@dataclass(frozen=True)
class SubmitTimesheet(Command):
    """A person's draft entries of an ISO week (2026-W48) become submitted together."""

    person_id: uuid.UUID
    week: str
    actor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ApproveTimesheet(Command):
    """The week's submitted entries the actor may review (a manager: on their projects; an
    admin or the system: all) become approved together."""

    person_id: uuid.UUID
    week: str
    actor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RejectTimesheet(Command):
    person_id: uuid.UUID
    week: str
    reason: str
    actor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ArchiveClient(Command):
    """Archive (archived=True) or restore a client: an archived one gets no new projects."""

    client_id: uuid.UUID
    archived: bool = True
    actor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ArchivePerson(Command):
    """Archive or restore a person: an archived one logs no time and signs in with no token."""

    person_id: uuid.UUID
    archived: bool = True
    actor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ArchiveProject(Command):
    """Archive or restore a project: an archived one takes no time, like a closed one."""

    project_id: uuid.UUID
    archived: bool = True
    actor_id: uuid.UUID | None = None
    caller: Caller | None = None

"""Events: small frozen dataclasses, named in the past tense.

An event carries everything its aggregate knows about the change (rates, amounts, dates), so
that a projector never has to read the write tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    schema_version: ClassVar[int] = 1
    # The name the event log stores the event under: its class's name.
    event_type: ClassVar[str] = "Event"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_type = cls.__name__

    def payload(self) -> dict[str, Any]:
        """The fields as JSON values. Shallow: the nested values (a time entry's before and
        after) are JSON already, and are serialized, never changed (asdict would deep-copy
        them on every command)."""
        return {
            field.name: _jsonable(getattr(self, field.name)) for field in dataclasses.fields(self)
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class ClientRegistered(Event):
    client_id: uuid.UUID
    name: str


@dataclass(frozen=True)
class ClientRenamed(Event):
    client_id: uuid.UUID
    name: str


@dataclass(frozen=True)
class PersonRegistered(Event):
    person_id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    role: str
    weekly_capacity_hundredths: int
    default_bill_rate_cents: int | None
    cost_rate_cents: int | None


@dataclass(frozen=True)
class ProjectCreated(Event):
    project_id: uuid.UUID
    name: str
    client_id: uuid.UUID
    manager_id: uuid.UUID
    start_date: dt.date
    end_date: dt.date | None
    budget_cents: int
    default_bill_rate_cents: int | None


@dataclass(frozen=True)
class PersonUpdated(Event):
    """The person's full new state (names, capacity, rates)."""

    person_id: uuid.UUID
    first_name: str
    last_name: str
    weekly_capacity_hundredths: int
    default_bill_rate_cents: int | None
    cost_rate_cents: int | None


@dataclass(frozen=True)
class ProjectUpdated(Event):
    """The project's full new state for the fields PATCH may change."""

    project_id: uuid.UUID
    name: str
    manager_id: uuid.UUID
    end_date: dt.date | None
    budget_cents: int
    default_bill_rate_cents: int | None


@dataclass(frozen=True)
class ProjectClosed(Event):
    project_id: uuid.UUID


@dataclass(frozen=True)
class ProjectReopened(Event):
    project_id: uuid.UUID


@dataclass(frozen=True)
class MemberAdded(Event):
    project_id: uuid.UUID
    person_id: uuid.UUID
    role: str
    bill_rate_cents: int | None


@dataclass(frozen=True)
class MemberUpdated(Event):
    project_id: uuid.UUID
    person_id: uuid.UUID
    role: str
    bill_rate_cents: int | None


@dataclass(frozen=True)
class MemberRemoved(Event):
    project_id: uuid.UUID
    person_id: uuid.UUID


@dataclass(frozen=True)
class TaskAdded(Event):
    project_id: uuid.UUID
    task_id: uuid.UUID
    name: str
    estimate_hundredths: int | None


@dataclass(frozen=True)
class TaskCompleted(Event):
    project_id: uuid.UUID
    task_id: uuid.UUID


@dataclass(frozen=True)
class TaskReopened(Event):
    project_id: uuid.UUID
    task_id: uuid.UUID


@dataclass(frozen=True)
class ClientArchived(Event):
    client_id: uuid.UUID
    actor_id: uuid.UUID | None


@dataclass(frozen=True)
class ClientRestored(Event):
    client_id: uuid.UUID
    actor_id: uuid.UUID | None


@dataclass(frozen=True)
class PersonArchived(Event):
    person_id: uuid.UUID
    actor_id: uuid.UUID | None


@dataclass(frozen=True)
class PersonRestored(Event):
    person_id: uuid.UUID
    actor_id: uuid.UUID | None


@dataclass(frozen=True)
class ProjectArchived(Event):
    project_id: uuid.UUID
    actor_id: uuid.UUID | None


@dataclass(frozen=True)
class ProjectRestored(Event):
    project_id: uuid.UUID
    actor_id: uuid.UUID | None


@dataclass(frozen=True)
class LockDateSet(Event):
    """The firm's lock date (None: no period is locked), the one before, and who set it."""

    firm_id: uuid.UUID
    lock_date: dt.date | None
    previous: dt.date | None
    actor_id: uuid.UUID | None


@dataclass(frozen=True)
class TimesheetActed(Event):
    """A person's week was submitted, approved or rejected as a whole (`action`), by whom,
    and which entries it changed (each entry's own event follows the same rules)."""

    timesheet_id: uuid.UUID
    person_id: uuid.UUID
    week: str
    action: str
    actor_id: uuid.UUID | None
    entry_ids: tuple[uuid.UUID, ...]
    reason: str | None


@dataclass(frozen=True)
class TimeEntryEvent(Event):
    """Every time-entry event carries the entry's state before and after the change
    (None before it was logged, None after it was deleted), so a projector applies the exact
    difference without reading anything else.

    Version 2 adds who issued the command (`actor_id`, None for the system) and the rules an
    admin overrode doing so (`overrides`, e.g. "own_time"): the audit trail of exceptions.
    Version 3 adds the cost rate captured when logged and the cost to the snapshots."""

    schema_version: ClassVar[int] = 3

    entry_id: uuid.UUID
    project_id: uuid.UUID
    person_id: uuid.UUID
    client_id: uuid.UUID
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor_id: uuid.UUID | None = None
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimeLogged(TimeEntryEvent):
    pass


@dataclass(frozen=True)
class TimeEntryAmended(TimeEntryEvent):
    pass


@dataclass(frozen=True)
class TimeEntryDeleted(TimeEntryEvent):
    pass


@dataclass(frozen=True)
class TimeEntrySubmitted(TimeEntryEvent):
    pass


@dataclass(frozen=True)
class TimeEntryApproved(TimeEntryEvent):
    pass


@dataclass(frozen=True)
class TimeEntryRejected(TimeEntryEvent):
    reason: str = ""

"""Aggregates: plain classes that check their own rules and record their events."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

from domain import errors, events
from domain.money import entry_amount_cents


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"


ROLE_NAMES = frozenset(role.value for role in Role)

# The most hours one person may log on one date, in hundredths.
DAY_LIMIT_HUNDREDTHS = 2400


@dataclass
class Aggregate:
    """Each recorded event advances the version by one; the store checks it on save. Every
    aggregate declares its `id` (the first positional field of each)."""

    id: uuid.UUID = field(kw_only=True)
    version: int = field(default=0, kw_only=True)
    loaded_version: int = field(default=0, kw_only=True)
    pending_events: list[tuple[events.Event, int]] = field(
        default_factory=list, kw_only=True, repr=False
    )

    def record(self, event: events.Event) -> None:
        self.version += 1
        self.pending_events.append((event, self.version))

    def check_version(self, expected: int | None) -> None:
        if expected is not None and expected != self.version:
            raise errors.StaleVersion(
                f"expected version {expected}, the current version is {self.version}"
            )


@dataclass
class Archivable(Aggregate):
    """People, clients and projects retire without leaving any report or history."""

    archived: bool = field(default=False, kw_only=True)

    def set_archived(self, archived: bool, actor_id: uuid.UUID | None) -> None:
        if archived == self.archived:
            return
        self.archived = archived
        self.record(self.archive_event(archived, actor_id))

    def archive_event(self, archived: bool, actor_id: uuid.UUID | None) -> events.Event:
        raise NotImplementedError

    def check_active(self, what: str) -> None:
        if self.archived:
            raise errors.Archived(f"{what} is archived")


@dataclass
class Client(Archivable):
    id: uuid.UUID
    name: str

    def archive_event(self, archived: bool, actor_id: uuid.UUID | None) -> events.Event:
        kind = events.ClientArchived if archived else events.ClientRestored
        return kind(client_id=self.id, actor_id=actor_id)

    @classmethod
    def register(cls, name: str) -> Client:
        client = cls(id=uuid.uuid4(), name=name)
        client.record(events.ClientRegistered(client_id=client.id, name=name))
        return client

    def rename(self, name: str) -> None:
        if name == self.name:
            return
        self.name = name
        self.record(events.ClientRenamed(client_id=self.id, name=name))


@dataclass
class Person(Archivable):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    role: str
    weekly_capacity_hundredths: int
    default_bill_rate_cents: int | None
    cost_rate_cents: int | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def archive_event(self, archived: bool, actor_id: uuid.UUID | None) -> events.Event:
        kind = events.PersonArchived if archived else events.PersonRestored
        return kind(person_id=self.id, actor_id=actor_id)

    @classmethod
    def register(
        cls,
        *,
        first_name: str,
        last_name: str,
        email: str,
        role: str,
        weekly_capacity_hundredths: int,
        default_bill_rate_cents: int | None,
        cost_rate_cents: int | None,
    ) -> Person:
        if role not in ROLE_NAMES:
            raise errors.ValidationFailed("role", f"unknown role {role!r}")
        person = cls(
            id=uuid.uuid4(),
            first_name=first_name,
            last_name=last_name,
            email=email.lower(),
            role=role,
            weekly_capacity_hundredths=weekly_capacity_hundredths,
            default_bill_rate_cents=default_bill_rate_cents,
            cost_rate_cents=cost_rate_cents,
        )
        person.record(
            events.PersonRegistered(
                person_id=person.id,
                first_name=first_name,
                last_name=last_name,
                email=person.email,
                role=role,
                weekly_capacity_hundredths=weekly_capacity_hundredths,
                default_bill_rate_cents=default_bill_rate_cents,
                cost_rate_cents=cost_rate_cents,
            )
        )
        return person

    def update(self, changes: dict[str, object]) -> None:
        fields = (
            "first_name",
            "last_name",
            "weekly_capacity_hundredths",
            "default_bill_rate_cents",
            "cost_rate_cents",
        )
        changed = False
        for name in fields:
            if name in changes and getattr(self, name) != changes[name]:
                setattr(self, name, changes[name])
                changed = True
        if changed:
            self.record(
                events.PersonUpdated(
                    person_id=self.id,
                    first_name=self.first_name,
                    last_name=self.last_name,
                    weekly_capacity_hundredths=self.weekly_capacity_hundredths,
                    default_bill_rate_cents=self.default_bill_rate_cents,
                    cost_rate_cents=self.cost_rate_cents,
                )
            )


@dataclass
class Member:
    role: str
    bill_rate_cents: int | None


@dataclass
class Task:
    id: uuid.UUID
    name: str
    estimate_hundredths: int | None
    completed: bool = False


@dataclass
class Project(Archivable):
    id: uuid.UUID
    name: str
    client_id: uuid.UUID
    manager_id: uuid.UUID
    start_date: dt.date
    end_date: dt.date | None
    budget_cents: int
    default_bill_rate_cents: int | None
    status: str = "open"
    members: dict[uuid.UUID, Member] = field(default_factory=dict)
    tasks: dict[uuid.UUID, Task] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        name: str,
        client_id: uuid.UUID,
        manager_id: uuid.UUID,
        start_date: dt.date,
        end_date: dt.date | None,
        budget_cents: int,
        default_bill_rate_cents: int | None,
    ) -> Project:
        if end_date is not None and end_date < start_date:
            raise errors.ValidationFailed("end_date", "end_date is before start_date")
        project = cls(
            id=uuid.uuid4(),
            name=name,
            client_id=client_id,
            manager_id=manager_id,
            start_date=start_date,
            end_date=end_date,
            budget_cents=budget_cents,
            default_bill_rate_cents=default_bill_rate_cents,
        )
        project.record(
            events.ProjectCreated(
                project_id=project.id,
                name=name,
                client_id=client_id,
                manager_id=manager_id,
                start_date=start_date,
                end_date=end_date,
                budget_cents=budget_cents,
                default_bill_rate_cents=default_bill_rate_cents,
            )
        )
        return project

    def archive_event(self, archived: bool, actor_id: uuid.UUID | None) -> events.Event:
        kind = events.ProjectArchived if archived else events.ProjectRestored
        return kind(project_id=self.id, actor_id=actor_id)

    def check_open(self) -> None:
        if self.status != "open":
            raise errors.ProjectClosed(f"project {self.name!r} is closed")
        self.check_active(f"project {self.name!r}")

    def check_entry_date(self, date: dt.date, latest: dt.date) -> None:
        """Time is logged within the project's dates, and no later than `latest`."""
        if date < self.start_date:
            raise errors.ValidationFailed(
                "date", f"{date} is before the project's start date {self.start_date}"
            )
        if self.end_date is not None and date > self.end_date:
            raise errors.ValidationFailed(
                "date", f"{date} is after the project's end date {self.end_date}"
            )
        if date > latest:
            raise errors.ValidationFailed(
                "date", f"{date} is too far ahead: time can be logged up to {latest}"
            )

    def is_on_team(self, person_id: uuid.UUID) -> bool:
        return person_id == self.manager_id or person_id in self.members

    def bill_rate_for(self, person: Person) -> int:
        """The member's rate here, else the project's default, else the person's, else 0."""
        member = self.members.get(person.id)
        for rate in (
            member.bill_rate_cents if member else None,
            self.default_bill_rate_cents,
            person.default_bill_rate_cents,
        ):
            if rate is not None:
                return rate
        return 0

    def update(self, changes: dict[str, object]) -> None:
        fields = ("name", "manager_id", "end_date", "budget_cents", "default_bill_rate_cents")
        updated = {name: changes.get(name, getattr(self, name)) for name in fields}
        end_date = updated["end_date"]
        if isinstance(end_date, dt.date) and end_date < self.start_date:
            raise errors.ValidationFailed("end_date", "end_date is before start_date")
        if all(getattr(self, name) == value for name, value in updated.items()):
            return
        for name, value in updated.items():
            setattr(self, name, value)
        self.record(
            events.ProjectUpdated(
                project_id=self.id,
                name=self.name,
                manager_id=self.manager_id,
                end_date=self.end_date,
                budget_cents=self.budget_cents,
                default_bill_rate_cents=self.default_bill_rate_cents,
            )
        )

    def close(self) -> None:
        if self.status == "closed":
            return
        self.status = "closed"
        self.record(events.ProjectClosed(project_id=self.id))

    def reopen(self) -> None:
        if self.status == "open":
            return
        self.status = "open"
        self.record(events.ProjectReopened(project_id=self.id))

    def add_member(self, person_id: uuid.UUID, role: str, bill_rate_cents: int | None) -> bool:
        """Add the person, or update their role and rate; True when they were new."""
        existing = self.members.get(person_id)
        if existing is not None:
            if existing.role != role or existing.bill_rate_cents != bill_rate_cents:
                existing.role, existing.bill_rate_cents = role, bill_rate_cents
                self.record(
                    events.MemberUpdated(
                        project_id=self.id,
                        person_id=person_id,
                        role=role,
                        bill_rate_cents=bill_rate_cents,
                    )
                )
            return False
        self.members[person_id] = Member(role=role, bill_rate_cents=bill_rate_cents)
        self.record(
            events.MemberAdded(
                project_id=self.id, person_id=person_id, role=role, bill_rate_cents=bill_rate_cents
            )
        )
        return True

    def remove_member(self, person_id: uuid.UUID) -> None:
        if person_id not in self.members:
            raise errors.NotFound(f"person {person_id} is not a member of this project")
        del self.members[person_id]
        self.record(events.MemberRemoved(project_id=self.id, person_id=person_id))

    def add_task(self, name: str, estimate_hundredths: int | None) -> uuid.UUID:
        task = Task(id=uuid.uuid4(), name=name, estimate_hundredths=estimate_hundredths)
        self.tasks[task.id] = task
        self.record(
            events.TaskAdded(
                project_id=self.id,
                task_id=task.id,
                name=name,
                estimate_hundredths=estimate_hundredths,
            )
        )
        return task.id

    def complete_task(self, task_id: uuid.UUID) -> None:
        task = self.tasks[task_id]
        if not task.completed:
            task.completed = True
            self.record(events.TaskCompleted(project_id=self.id, task_id=task_id))

    def reopen_task(self, task_id: uuid.UUID) -> None:
        task = self.tasks[task_id]
        if task.completed:
            task.completed = False
            self.record(events.TaskReopened(project_id=self.id, task_id=task_id))


FIRM_ID = uuid.UUID(int=1)  # the one firm a Tally installation serves


@dataclass
class Firm(Aggregate):
    """Firm-wide settings that commands obey: the lock date."""

    id: uuid.UUID = FIRM_ID
    lock_date: dt.date | None = None
    lock_date_set_by: uuid.UUID | None = None

    def set_lock_date(self, lock_date: dt.date | None, actor_id: uuid.UUID | None) -> None:
        if lock_date == self.lock_date:
            return
        previous, self.lock_date, self.lock_date_set_by = self.lock_date, lock_date, actor_id
        self.record(
            events.LockDateSet(
                firm_id=self.id, lock_date=lock_date, previous=previous, actor_id=actor_id
            )
        )


# An entry's states: draft (logged or amended) -> submitted (its week was submitted) ->
# approved (immutable) or rejected (amended back to draft). Approval and rejection also take
# a draft entry directly. Drafts, submitted and approved entries count in totals.
ENTRY_STATUSES = ("draft", "submitted", "approved", "rejected")
COUNTED_STATUSES = ("draft", "submitted", "approved")
REVIEWABLE_STATUSES = ("draft", "submitted")


def week_start(week: str) -> dt.date:
    """The Monday of an ISO week given as 2026-W48."""
    year, _, number = week.partition("-W")
    try:
        return dt.date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise errors.ValidationFailed(
            "week", f"{week!r} is not an ISO week like 2026-W48"
        ) from None


def week_of(day: dt.date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def timesheet_id(person_id: uuid.UUID, week: str) -> uuid.UUID:
    """A person's week has one timesheet, whose id both can name."""
    return uuid.uuid5(person_id, week)


@dataclass
class Timesheet(Aggregate):
    """The last action on a person's week as a whole, and who took it. Its entries' states
    live on the entries; the week's status is derived from them."""

    id: uuid.UUID
    person_id: uuid.UUID
    week: str
    last_action: str | None = None
    acted_by: uuid.UUID | None = None
    reason: str | None = None

    def act(
        self,
        action: str,
        actor_id: uuid.UUID | None,
        entry_ids: list[uuid.UUID],
        reason: str | None = None,
    ) -> None:
        self.last_action, self.acted_by, self.reason = action, actor_id, reason
        self.record(
            events.TimesheetActed(
                timesheet_id=self.id,
                person_id=self.person_id,
                week=self.week,
                action=action,
                actor_id=actor_id,
                entry_ids=tuple(entry_ids),
                reason=reason,
            )
        )


@dataclass(frozen=True)
class Act:
    """Who issues a command (None: the system), and the rules an admin overrode doing so."""

    actor_id: uuid.UUID | None = None
    overrides: tuple[str, ...] = ()


SYSTEM = Act()


@dataclass
class TimeEntry(Aggregate):
    id: uuid.UUID
    project_id: uuid.UUID
    person_id: uuid.UUID
    client_id: uuid.UUID
    task_id: uuid.UUID | None
    date: dt.date
    hours_hundredths: int
    billable: bool
    rate_cents: int
    amount_cents: int
    status: str
    notes: str | None
    cost_rate_cents: int = 0
    cost_cents: int = 0
    deleted: bool = False

    def snapshot(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "hours_hundredths": self.hours_hundredths,
            "billable": self.billable,
            "rate_cents": self.rate_cents,
            "amount_cents": self.amount_cents,
            "cost_rate_cents": self.cost_rate_cents,
            "cost_cents": self.cost_cents,
            "status": self.status,
            "task_id": str(self.task_id) if self.task_id else None,
            "notes": self.notes,
        }

    def _record_change(
        self,
        event_type: type[events.TimeEntryEvent],
        before: dict[str, object] | None,
        act: Act,
        **extra: object,
    ) -> None:
        self.record(
            event_type(
                entry_id=self.id,
                project_id=self.project_id,
                person_id=self.person_id,
                client_id=self.client_id,
                before=before,
                after=None if self.deleted else self.snapshot(),
                actor_id=act.actor_id,
                overrides=act.overrides,
                **extra,
            )
        )

    @classmethod
    def log(
        cls,
        *,
        project: Project,
        person: Person,
        date: dt.date,
        hours_hundredths: int,
        billable: bool,
        task_id: uuid.UUID | None,
        notes: str | None,
        latest_date: dt.date,
        act: Act = SYSTEM,
    ) -> TimeEntry:
        project.check_open()
        project.check_entry_date(date, latest_date)
        person.check_active(person.name)
        if not project.is_on_team(person.id):
            raise errors.NotOnProject(
                f"{person.name} is neither a member nor the manager of project {project.name!r}"
            )
        if task_id is not None and task_id not in project.tasks:
            raise errors.InvalidReference("task_id", f"task {task_id} is not in this project")
        rate = project.bill_rate_for(person)
        entry = cls(
            id=uuid.uuid4(),
            project_id=project.id,
            person_id=person.id,
            client_id=project.client_id,
            task_id=task_id,
            date=date,
            hours_hundredths=hours_hundredths,
            billable=billable,
            rate_cents=rate,
            amount_cents=entry_amount_cents(hours_hundredths, rate),
            notes=notes,
            cost_rate_cents=person.cost_rate_cents or 0,
            cost_cents=entry_amount_cents(hours_hundredths, person.cost_rate_cents or 0),
            status="draft",
        )
        entry._record_change(events.TimeLogged, None, act)
        return entry

    def check_mutable(self) -> None:
        if self.status == "approved":
            raise errors.EntryLocked("approved entries cannot be changed")

    def amend(
        self,
        project: Project,
        changes: dict[str, object],
        latest_date: dt.date,
        act: Act = SYSTEM,
    ) -> None:
        self.check_mutable()
        project.check_open()
        new_date = cast(dt.date, changes.get("date", self.date))
        if new_date != self.date:
            project.check_entry_date(new_date, latest_date)
        task_id = changes.get("task_id", self.task_id)
        if task_id is not None and task_id not in project.tasks:
            raise errors.InvalidReference("task_id", f"task {task_id} is not in this project")
        before = self.snapshot()
        for name in ("date", "hours_hundredths", "billable", "task_id", "notes"):
            if name in changes:
                setattr(self, name, changes[name])
        self.amount_cents = entry_amount_cents(self.hours_hundredths, self.rate_cents)
        self.cost_cents = entry_amount_cents(self.hours_hundredths, self.cost_rate_cents)
        self.status = "draft"
        if self.snapshot() != before:
            self._record_change(events.TimeEntryAmended, before, act)

    def delete(self, project: Project, act: Act = SYSTEM) -> None:
        self.check_mutable()
        project.check_open()
        before = self.snapshot()
        self.deleted = True
        self._record_change(events.TimeEntryDeleted, before, act)

    def submit(self, act: Act = SYSTEM) -> None:
        if self.status != "draft":
            raise errors.InvalidTransition(
                f"only draft entries can be submitted, not {self.status}"
            )
        before = self.snapshot()
        self.status = "submitted"
        self._record_change(events.TimeEntrySubmitted, before, act)

    def approve(self, act: Act = SYSTEM) -> None:
        if self.status not in REVIEWABLE_STATUSES:
            raise errors.InvalidTransition(
                f"only draft or submitted entries can be approved, not {self.status}"
            )
        before = self.snapshot()
        self.status = "approved"
        self._record_change(events.TimeEntryApproved, before, act)

    def reject(self, reason: str, act: Act = SYSTEM) -> None:
        if self.status not in REVIEWABLE_STATUSES:
            raise errors.InvalidTransition(
                f"only draft or submitted entries can be rejected, not {self.status}"
            )
        before = self.snapshot()
        self.status = "rejected"
        self._record_change(events.TimeEntryRejected, before, act, reason=reason)

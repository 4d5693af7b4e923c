"""The unit of work and repository interfaces the command handlers depend on."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Protocol, Self, TypeVar

from domain import model
from domain.policy import Policy

A = TypeVar("A", bound=model.Aggregate)


class Repository(Protocol[A]):
    def add(self, aggregate: A) -> None: ...

    def get(self, aggregate_id: uuid.UUID, *, for_update: bool = False) -> A | None: ...


class PersonRepository(Repository[model.Person], Protocol):
    def email_taken(self, email: str) -> bool: ...

    def add_token(self, person_id: uuid.UUID, token_hash: str) -> None: ...

    def lock(self, person_id: uuid.UUID) -> model.Person | None: ...


@dataclass(frozen=True)
class ProjectDay:
    """A project with what logging a person's time on it on a day checks: the firm's lock
    date and the hours the person has logged that day."""

    project: model.Project
    lock_date: dt.date | None
    hours_logged: int


class ProjectRepository(Repository[model.Project], Protocol):
    def get_by_task(
        self, task_id: uuid.UUID, *, for_update: bool = False
    ) -> model.Project | None: ...

    def get_with_day(
        self, project_id: uuid.UUID, person_id: uuid.UUID, date: dt.date
    ) -> ProjectDay | None:
        """The project (None if there is none) with the firm's lock date, read as
        FirmRepository.lock_date reads it, and the person's hours on the date. The caller
        holds the person's lock, which serializes the person's daily-hours check."""


class TimeEntryRepository(Repository[model.TimeEntry], Protocol):
    def hours_on(
        self, person_id: uuid.UUID, date: dt.date, excluding: uuid.UUID | None = None
    ) -> int: ...

    def of_week(self, person_id: uuid.UUID, monday: dt.date) -> list[model.TimeEntry]: ...


class TimesheetRepository(Protocol):
    def for_week(self, person_id: uuid.UUID, week: str) -> model.Timesheet: ...


class FirmRepository(Protocol):
    def current(self, *, for_update: bool = False) -> model.Firm: ...

    def lock_date(self) -> dt.date | None: ...


class UnitOfWork(Protocol):
    clients: Repository[model.Client]
    people: PersonRepository
    projects: ProjectRepository
    time_entries: TimeEntryRepository
    firm: FirmRepository
    timesheets: TimesheetRepository
    policy: Policy
    last_position: int | None
    event_types: set[str]

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

"""An in-memory unit of work for handler tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Self

from domain.model import FIRM_ID, Firm, Timesheet, timesheet_id
from domain.unit_of_work import ProjectDay
from tests.support.stack import TEST_POLICY


class FakeRepository:
    def __init__(self) -> None:
        self.items: dict[uuid.UUID, Any] = {}

    def add(self, aggregate: Any) -> None:
        self.items[aggregate.id] = aggregate

    def get(self, aggregate_id: uuid.UUID, *, for_update: bool = False) -> Any:
        return self.items.get(aggregate_id)


class FakePeople(FakeRepository):
    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, uuid.UUID] = {}

    def email_taken(self, email: str) -> bool:
        return any(p.email == email.lower() for p in self.items.values())

    def add_token(self, person_id: uuid.UUID, token_hash: str) -> None:
        self.tokens[token_hash] = person_id

    def lock(self, person_id: uuid.UUID) -> Any:
        return self.get(person_id)


class FakeTimeEntries(FakeRepository):
    def hours_on(
        self, person_id: uuid.UUID, date: dt.date, excluding: uuid.UUID | None = None
    ) -> int:
        return sum(
            entry.hours_hundredths
            for entry in self.items.values()
            if entry.person_id == person_id
            and entry.date == date
            and entry.id != excluding
            and not entry.deleted
        )

    def of_week(self, person_id: uuid.UUID, monday: dt.date) -> list[Any]:
        sunday = monday + dt.timedelta(days=6)
        return sorted(
            (
                entry
                for entry in self.items.values()
                if entry.person_id == person_id and monday <= entry.date <= sunday
            ),
            key=lambda entry: entry.id,
        )


class FakeTimesheets(FakeRepository):
    def for_week(self, person_id: uuid.UUID, week: str) -> Any:
        sheet_id = timesheet_id(person_id, week)
        if sheet_id not in self.items:
            self.add(Timesheet(id=sheet_id, person_id=person_id, week=week))
        return self.items[sheet_id]


class FakeFirm(FakeRepository):
    def current(self, *, for_update: bool = False) -> Any:
        if FIRM_ID not in self.items:
            self.add(Firm())
        return self.items[FIRM_ID]

    def lock_date(self) -> dt.date | None:
        firm = self.items.get(FIRM_ID)
        return None if firm is None else firm.lock_date


class FakeProjects(FakeRepository):
    def __init__(self, time_entries: FakeTimeEntries, firm: FakeFirm) -> None:
        super().__init__()
        self.time_entries = time_entries
        self.firm = firm

    def get_with_day(self, project_id: uuid.UUID, person_id: uuid.UUID, date: dt.date) -> Any:
        project = self.get(project_id)
        if project is None:
            return None
        hours = self.time_entries.hours_on(person_id, date)
        return ProjectDay(project, self.firm.lock_date(), hours)

    def get_by_task(self, task_id: uuid.UUID, *, for_update: bool = False) -> Any:
        return next((p for p in self.items.values() if task_id in p.tasks), None)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.clients = FakeRepository()
        self.people = FakePeople()
        self.time_entries = FakeTimeEntries()
        self.firm = FakeFirm()
        self.projects = FakeProjects(self.time_entries, self.firm)
        self.timesheets = FakeTimesheets()
        self.policy = TEST_POLICY
        self.committed = False
        self.log: list[tuple[str, Any]] = []
        self.last_position: int | None = None
        self.event_types: set[str] = set()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def commit(self) -> None:
        self.event_types = set()
        for repository in (
            self.clients,
            self.people,
            self.projects,
            self.time_entries,
            self.firm,
            self.timesheets,
        ):
            for aggregate in list(repository.items.values()):
                for event, _version in aggregate.pending_events:
                    self.log.append((event.event_type, event))
                    self.event_types.add(event.event_type)
                aggregate.pending_events.clear()
                if getattr(aggregate, "deleted", False):
                    del repository.items[aggregate.id]
        self.last_position = len(self.log) or None
        self.committed = True

    def rollback(self) -> None:
        pass

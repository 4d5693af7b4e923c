"""Repositories: load aggregates from rows and save them back with a version check."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Connection,
    Executable,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from domain import errors, model, unit_of_work
from domain.store import tables

A = TypeVar("A", bound=model.Aggregate)

# Picks an aggregate's row, given the bound parameter that stands for the value looked up.
Condition = Callable[[BindParameter[Any]], ColumnElement[bool]]

# Each repository's statements, built once per repository type, dialect and purpose. Building
# a statement cost a command more than running it: SQLAlchemy caches the compiled SQL, not the
# construction, and re-derives its cache key from every newly built statement.
_STATEMENTS: dict[tuple[type, str, str], Any] = {}


class TableRepository(Generic[A]):
    """Maps one aggregate type to one table; subclasses say how rows become aggregates."""

    table: Table
    aggregate_type: str

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.seen: list[A] = []

    def to_row(self, aggregate: A) -> dict[str, Any]:
        raise NotImplementedError

    def from_row(self, row: Any) -> A:
        raise NotImplementedError

    def add(self, aggregate: A) -> None:
        self.seen.append(aggregate)

    def statement(self, purpose: str, build: Callable[[], Executable]) -> Any:
        """This repository's statement for `purpose`, built by `build` the first time."""
        key = (type(self), self.connection.dialect.name, purpose)
        built = _STATEMENTS.get(key)
        if built is None:
            built = _STATEMENTS[key] = build()
        return built

    def locks_rows(self, for_update: bool) -> bool:
        """Whether a load for update takes a row lock (SQLite's write lock covers it)."""
        return for_update and self.connection.dialect.name == "postgresql"

    def rows(self) -> Select[Any]:
        """What one aggregate is loaded from: its row, and whatever else comes with it."""
        return select(self.table)

    def get(self, aggregate_id: uuid.UUID, *, for_update: bool = False) -> A | None:
        return self._load("id", lambda key: self.table.c.id == key, aggregate_id, for_update)

    def _load(self, by: str, condition: Condition, value: Any, for_update: bool) -> A | None:
        lock = self.locks_rows(for_update)

        def build() -> Select[Any]:
            query = self.rows().where(condition(bindparam("key")))
            # Only the aggregate's own row: a row loaded with it is another aggregate's.
            return query.with_for_update(of=self.table) if lock else query

        query = self.statement(f"load by {by}" + (" for update" if lock else ""), build)
        row = self.connection.execute(query, {"key": value}).one_or_none()
        return None if row is None else self.loaded(row)

    def loaded(self, row: Any) -> A:
        """The aggregate of a row just loaded, seen by this unit of work."""
        aggregate = self.from_row(row)
        aggregate.loaded_version = aggregate.version
        self.seen.append(aggregate)
        return aggregate

    def save(self, aggregate: A) -> None:
        if aggregate.version == aggregate.loaded_version:
            return
        row = self.to_row(aggregate) | {"version": aggregate.version}
        if aggregate.loaded_version == 0:
            self.connection.execute(self.statement("insert", lambda: insert(self.table)), row)
            return
        # The SET clause is the row's columns; row_id and loaded_version bind the WHERE.
        changed = self.statement(
            "update",
            lambda: update(self.table).where(
                self.table.c.id == bindparam("row_id"),
                self.table.c.version == bindparam("loaded_version"),
            ),
        )
        result = self.connection.execute(
            changed,
            row | {"row_id": aggregate.id, "loaded_version": aggregate.loaded_version},
        )
        if result.rowcount != 1:
            raise errors.ConcurrentModification(
                f"{self.aggregate_type} {aggregate.id} was changed by another request"
            )


class ClientRepository(TableRepository[model.Client]):
    table = tables.clients
    aggregate_type = "Client"

    def to_row(self, aggregate: model.Client) -> dict[str, Any]:
        return {"id": aggregate.id, "name": aggregate.name, "archived": aggregate.archived}

    def from_row(self, row: Any) -> model.Client:
        return model.Client(id=row.id, name=row.name, archived=row.archived, version=row.version)


FIRST_TOKEN_NAME = "first token"


class PersonRepository(TableRepository[model.Person]):
    table = tables.people
    aggregate_type = "Person"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.pending_tokens: list[tuple[uuid.UUID, str]] = []

    def to_row(self, aggregate: model.Person) -> dict[str, Any]:
        return {
            "id": aggregate.id,
            "first_name": aggregate.first_name,
            "last_name": aggregate.last_name,
            "email": aggregate.email,
            "role": aggregate.role,
            "weekly_capacity_hundredths": aggregate.weekly_capacity_hundredths,
            "default_bill_rate_cents": aggregate.default_bill_rate_cents,
            "cost_rate_cents": aggregate.cost_rate_cents,
            "archived": aggregate.archived,
        }

    def from_row(self, row: Any) -> model.Person:
        return model.Person(
            id=row.id,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            role=row.role,
            weekly_capacity_hundredths=row.weekly_capacity_hundredths,
            default_bill_rate_cents=row.default_bill_rate_cents,
            cost_rate_cents=row.cost_rate_cents,
            archived=row.archived,
            version=row.version,
        )

    def save(self, aggregate: model.Person) -> None:
        if aggregate.version == aggregate.loaded_version:
            return  # unchanged: no savepoint round trips
        try:
            with self.connection.begin_nested():
                super().save(aggregate)
        except IntegrityError as error:
            if self.email_taken(aggregate.email):
                raise errors.DuplicateEmail(
                    f"a person with email {aggregate.email} exists already"
                ) from error
            raise

    def lock(self, person_id: uuid.UUID) -> model.Person | None:
        """Load the person holding their row lock: serializes their daily-hours check."""
        return self.get(person_id, for_update=True)

    def email_taken(self, email: str) -> bool:
        return bool(
            self.connection.execute(
                select(exists().where(tables.people.c.email == email.lower()))
            ).scalar()
        )

    def id_by_email(self, email: str) -> uuid.UUID | None:
        """The id of the person with this email, in any case (emails are kept lower-case)."""
        found: uuid.UUID | None = self.connection.execute(
            select(tables.people.c.id).where(tables.people.c.email == email.lower())
        ).scalar_one_or_none()
        return found

    def add_token(self, person_id: uuid.UUID, token_hash: str) -> None:
        self.pending_tokens.append((person_id, token_hash))

    def save_tokens(self) -> None:
        for person_id, token_hash in self.pending_tokens:
            self.connection.execute(
                insert(tables.api_tokens).values(
                    id=uuid.uuid4(),
                    name=FIRST_TOKEN_NAME,
                    token_hash=token_hash,
                    person_id=person_id,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
        self.pending_tokens.clear()


class ProjectRepository(TableRepository[model.Project]):
    """A project with its team memberships and tasks."""

    table = tables.projects
    aggregate_type = "Project"

    def to_row(self, aggregate: model.Project) -> dict[str, Any]:
        return {
            "id": aggregate.id,
            "name": aggregate.name,
            "client_id": aggregate.client_id,
            "manager_id": aggregate.manager_id,
            "start_date": aggregate.start_date,
            "end_date": aggregate.end_date,
            "budget_cents": aggregate.budget_cents,
            "default_bill_rate_cents": aggregate.default_bill_rate_cents,
            "status": aggregate.status,
            "archived": aggregate.archived,
        }

    def rows(self) -> Select[Any]:
        """The project's row with its members and tasks as JSON arrays: one round trip, not
        three, on every command that logs or changes time."""
        members, project_tasks = tables.project_members, tables.tasks
        return select(
            tables.projects,
            self._json_rows(
                members.c.project_id == tables.projects.c.id,
                members.c.person_id,
                members.c.role,
                members.c.bill_rate_cents,
            ).label("member_rows"),
            self._json_rows(
                project_tasks.c.project_id == tables.projects.c.id,
                project_tasks.c.id,
                project_tasks.c.name,
                project_tasks.c.estimate_hundredths,
                project_tasks.c.completed,
            ).label("task_rows"),
        )

    def _json_rows(self, owned: ColumnElement[bool], *columns: ColumnElement[Any]) -> Any:
        """A correlated subquery: one JSON array per row that matches `owned`, or NULL."""
        table = columns[0].table
        if self.connection.dialect.name == "postgresql":
            rows = func.json_agg(func.json_build_array(*columns), type_=JSON)
        else:
            rows = func.json_group_array(func.json_array(*columns), type_=JSON)
        return select(rows).select_from(table).where(owned).scalar_subquery()

    def from_row(self, row: Any) -> model.Project:
        # UUIDs arrive as text (hyphenated or, from SQLite, plain hex) and booleans, from
        # SQLite, as 0 or 1.
        members = {
            uuid.UUID(person_id): model.Member(role=role, bill_rate_cents=bill_rate_cents)
            for person_id, role, bill_rate_cents in row.member_rows or []
        }
        project_tasks = {
            uuid.UUID(task_id): model.Task(
                id=uuid.UUID(task_id),
                name=name,
                estimate_hundredths=estimate_hundredths,
                completed=bool(completed),
            )
            for task_id, name, estimate_hundredths, completed in row.task_rows or []
        }
        self.loaded_tasks[row.id] = set(project_tasks)
        return model.Project(
            id=row.id,
            name=row.name,
            client_id=row.client_id,
            manager_id=row.manager_id,
            start_date=row.start_date,
            end_date=row.end_date,
            budget_cents=row.budget_cents,
            default_bill_rate_cents=row.default_bill_rate_cents,
            status=row.status,
            archived=row.archived,
            members=members,
            tasks=project_tasks,
            version=row.version,
        )

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.loaded_tasks: dict[uuid.UUID, set[uuid.UUID]] = {}

    def _load(
        self, by: str, condition: Condition, value: Any, for_update: bool
    ) -> model.Project | None:
        if not self.locks_rows(for_update):
            return super()._load(by, condition, value, False)
        # Lock in a statement of its own, then load. A statement that waited for the lock
        # re-reads the locked row but reads members and tasks from before its wait (READ
        # COMMITTED's snapshot is per statement): a member added meanwhile would be lost.
        lock = self.statement(
            f"lock by {by}",
            lambda: (
                select(tables.projects.c.id).where(condition(bindparam("key"))).with_for_update()
            ),
        )
        project_id = self.connection.execute(lock, {"key": value}).scalar_one_or_none()
        return None if project_id is None else self.get(project_id)

    def get_with_day(
        self, project_id: uuid.UUID, person_id: uuid.UUID, date: dt.date
    ) -> unit_of_work.ProjectDay | None:
        """One statement for what LogTime reads after locking the person."""

        def build() -> Select[Any]:
            lock_date = FirmRepository.lock_date_query(self.connection.dialect.name)
            return (
                self.rows()
                .add_columns(
                    lock_date.scalar_subquery().label("lock_date"),
                    hours_on_day().scalar_subquery().label("hours_logged"),
                )
                .where(tables.projects.c.id == bindparam("key"))
            )

        values = {"key": project_id, "person_id": person_id, "date": date, "firm_id": model.FIRM_ID}
        row = self.connection.execute(self.statement("load with a day", build), values).first()
        if row is None:
            return None
        return unit_of_work.ProjectDay(self.loaded(row), row.lock_date, int(row.hours_logged))

    def get_by_task(self, task_id: uuid.UUID, *, for_update: bool = False) -> model.Project | None:
        def of_task(key: BindParameter[Any]) -> ColumnElement[bool]:
            owner = select(tables.tasks.c.project_id).where(tables.tasks.c.id == key)
            return tables.projects.c.id == owner.scalar_subquery()

        return self._load("task", of_task, task_id, for_update)

    def save(self, aggregate: model.Project) -> None:
        if aggregate.version == aggregate.loaded_version:
            return
        super().save(aggregate)
        members = tables.project_members
        if aggregate.loaded_version:  # a new project has no members to replace
            self.connection.execute(delete(members).where(members.c.project_id == aggregate.id))
        if aggregate.members:
            self.connection.execute(
                insert(members),
                [
                    {
                        "project_id": aggregate.id,
                        "person_id": person_id,
                        "role": member.role,
                        "bill_rate_cents": member.bill_rate_cents,
                    }
                    for person_id, member in aggregate.members.items()
                ],
            )
        known = self.loaded_tasks.get(aggregate.id, set())
        for task in aggregate.tasks.values():
            values = {
                "name": task.name,
                "estimate_hundredths": task.estimate_hundredths,
                "completed": task.completed,
            }
            if task.id in known:
                self.connection.execute(
                    update(tables.tasks).where(tables.tasks.c.id == task.id).values(values)
                )
            else:
                self.connection.execute(
                    insert(tables.tasks).values(id=task.id, project_id=aggregate.id, **values)
                )
        self.loaded_tasks[aggregate.id] = set(aggregate.tasks)


class TimeEntryRepository(TableRepository[model.TimeEntry]):
    table = tables.time_entries
    aggregate_type = "TimeEntry"

    def to_row(self, aggregate: model.TimeEntry) -> dict[str, Any]:
        return {
            "id": aggregate.id,
            "project_id": aggregate.project_id,
            "person_id": aggregate.person_id,
            "task_id": aggregate.task_id,
            "date": aggregate.date,
            "hours_hundredths": aggregate.hours_hundredths,
            "billable": aggregate.billable,
            "rate_cents": aggregate.rate_cents,
            "amount_cents": aggregate.amount_cents,
            "cost_rate_cents": aggregate.cost_rate_cents,
            "cost_cents": aggregate.cost_cents,
            "status": aggregate.status,
            "notes": aggregate.notes,
        }

    def rows(self) -> Select[Any]:
        """The entry with its project's client. Neither an entry's project nor a project's
        client ever changes, so the join is safe for a load that waited for the entry's lock
        (unlike a project's members: see ProjectRepository._load)."""
        entries = tables.time_entries
        return select(entries, tables.projects.c.client_id).join(
            tables.projects, tables.projects.c.id == entries.c.project_id
        )

    def from_row(self, row: Any) -> model.TimeEntry:
        return model.TimeEntry(
            id=row.id,
            project_id=row.project_id,
            person_id=row.person_id,
            client_id=row.client_id,
            task_id=row.task_id,
            date=row.date,
            hours_hundredths=row.hours_hundredths,
            billable=row.billable,
            rate_cents=row.rate_cents,
            amount_cents=row.amount_cents,
            cost_rate_cents=row.cost_rate_cents,
            cost_cents=row.cost_cents,
            status=row.status,
            notes=row.notes,
            version=row.version,
        )

    def save(self, aggregate: model.TimeEntry) -> None:
        if not aggregate.deleted:
            super().save(aggregate)
            return
        removed = self.statement(
            "delete",
            lambda: delete(tables.time_entries).where(
                tables.time_entries.c.id == bindparam("row_id"),
                tables.time_entries.c.version == bindparam("loaded_version"),
            ),
        )
        result = self.connection.execute(
            removed, {"row_id": aggregate.id, "loaded_version": aggregate.loaded_version}
        )
        if result.rowcount != 1:
            raise errors.ConcurrentModification(
                f"time entry {aggregate.id} was changed by another request"
            )

    def of_week(self, person_id: uuid.UUID, monday: dt.date) -> list[model.TimeEntry]:
        """The person's entries of the week from `monday`, each row locked (in id order, so
        that two commands on one week never deadlock)."""
        entries = tables.time_entries
        lock = self.locks_rows(True)

        def build() -> Select[Any]:
            query = (
                self.rows()
                .where(
                    entries.c.person_id == bindparam("person_id"),
                    entries.c.date.between(bindparam("monday"), bindparam("sunday")),
                )
                .order_by(entries.c.id)
            )
            return query.with_for_update(of=entries) if lock else query

        values = {
            "person_id": person_id,
            "monday": monday,
            "sunday": monday + dt.timedelta(days=6),
        }
        found = []
        for row in self.connection.execute(self.statement("a week", build), values):
            entry = self.from_row(row)
            entry.loaded_version = entry.version
            self.seen.append(entry)
            found.append(entry)
        return found

    def hours_on(
        self, person_id: uuid.UUID, date: dt.date, excluding: uuid.UUID | None = None
    ) -> int:
        def build() -> Select[Any]:
            query = hours_on_day()
            if excluding is not None:
                query = query.where(tables.time_entries.c.id != bindparam("excluding"))
            return query

        purpose = "hours on a day" + (" but one entry" if excluding is not None else "")
        values = {"person_id": person_id, "date": date, "excluding": excluding}
        return int(self.connection.execute(self.statement(purpose, build), values).scalar_one())


def hours_on_day() -> Select[Any]:
    """The hours logged by the person `person_id` on `date`."""
    entries = tables.time_entries
    return select(func.coalesce(func.sum(entries.c.hours_hundredths), 0)).where(
        entries.c.person_id == bindparam("person_id"), entries.c.date == bindparam("date")
    )


class FirmRepository(TableRepository[model.Firm]):
    """The firm's one settings row, created by the first setting saved."""

    table = tables.firm_settings
    aggregate_type = "Firm"

    def to_row(self, aggregate: model.Firm) -> dict[str, Any]:
        return {
            "id": aggregate.id,
            "lock_date": aggregate.lock_date,
            "lock_date_set_by": aggregate.lock_date_set_by,
        }

    def from_row(self, row: Any) -> model.Firm:
        return model.Firm(
            id=row.id,
            lock_date=row.lock_date,
            lock_date_set_by=row.lock_date_set_by,
            version=row.version,
        )

    def current(self, *, for_update: bool = False) -> model.Firm:
        firm = self.get(model.FIRM_ID, for_update=for_update)
        if firm is None:
            firm = model.Firm()
            self.add(firm)
        return firm

    def save(self, aggregate: model.Firm) -> None:
        if aggregate.version == aggregate.loaded_version:
            return
        try:
            with self.connection.begin_nested():
                super().save(aggregate)
        except IntegrityError as error:  # two first settings at once: the other one won
            raise errors.ConcurrentModification(
                "the firm's settings were changed by another request"
            ) from error

    def lock_date(self) -> dt.date | None:
        """The lock date, holding a share lock on the row (PostgreSQL): a lock date being set
        waits for the time commands under way, and they for it."""
        statement = self.statement(
            "lock date", lambda: self.lock_date_query(self.connection.dialect.name)
        )
        return self.connection.execute(statement, {"firm_id": model.FIRM_ID}).scalar_one_or_none()

    @staticmethod
    def lock_date_query(dialect: str) -> Select[Any]:
        settings = tables.firm_settings
        query = select(settings.c.lock_date).where(settings.c.id == bindparam("firm_id"))
        return query.with_for_update(read=True) if dialect == "postgresql" else query


class TimesheetRepository(TableRepository[model.Timesheet]):
    table = tables.timesheets
    aggregate_type = "Timesheet"

    def to_row(self, aggregate: model.Timesheet) -> dict[str, Any]:
        return {
            "id": aggregate.id,
            "person_id": aggregate.person_id,
            "week": aggregate.week,
            "last_action": aggregate.last_action,
            "acted_by": aggregate.acted_by,
            "reason": aggregate.reason,
        }

    def from_row(self, row: Any) -> model.Timesheet:
        return model.Timesheet(
            id=row.id,
            person_id=row.person_id,
            week=row.week,
            last_action=row.last_action,
            acted_by=row.acted_by,
            reason=row.reason,
            version=row.version,
        )

    def for_week(self, person_id: uuid.UUID, week: str) -> model.Timesheet:
        """The week's timesheet, new if nothing was done to the week as a whole yet. The
        caller holds the week's entries' row locks, which serialize the week's commands."""
        sheet_id = model.timesheet_id(person_id, week)
        sheet = self.get(sheet_id)
        if sheet is None:
            sheet = model.Timesheet(id=sheet_id, person_id=person_id, week=week)
            self.add(sheet)
        return sheet

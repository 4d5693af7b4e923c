"""Repositories: load aggregates from rows and save them back with a version check."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Table, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain import errors, model
from domain.store import tables

A = TypeVar("A", bound=model.Aggregate)


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

    def get(self, aggregate_id: uuid.UUID, *, for_update: bool = False) -> A | None:
        query = select(self.table).where(self.table.c.id == aggregate_id)
        if for_update and self.connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.connection.execute(query).one_or_none()
        if row is None:
            return None
        aggregate = self.from_row(row)
        aggregate.loaded_version = aggregate.version
        self.seen.append(aggregate)
        return aggregate

    def save(self, aggregate: A) -> None:
        if aggregate.version == aggregate.loaded_version:
            return
        row = self.to_row(aggregate) | {"version": aggregate.version}
        if aggregate.loaded_version == 0:
            self.connection.execute(insert(self.table).values(row))
            return
        result = self.connection.execute(
            update(self.table)
            .where(
                self.table.c.id == aggregate.id,  # type: ignore[attr-defined]
                self.table.c.version == aggregate.loaded_version,
            )
            .values(row)
        )
        if result.rowcount != 1:
            raise errors.ConcurrentModification(
                f"{self.aggregate_type} {aggregate.id} was changed by another request"  # type: ignore[attr-defined]
            )


class ClientRepository(TableRepository[model.Client]):
    table = tables.clients
    aggregate_type = "Client"

    def to_row(self, aggregate: model.Client) -> dict[str, Any]:
        return {"id": aggregate.id, "name": aggregate.name}

    def from_row(self, row: Any) -> model.Client:
        return model.Client(id=row.id, name=row.name, version=row.version)


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

    def add_token(self, person_id: uuid.UUID, token_hash: str) -> None:
        self.pending_tokens.append((person_id, token_hash))

    def save_tokens(self) -> None:
        for person_id, token_hash in self.pending_tokens:
            self.connection.execute(
                insert(tables.api_tokens).values(
                    token_hash=token_hash, person_id=person_id, created_at=dt.datetime.now(dt.UTC)
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
        }

    def from_row(self, row: Any) -> model.Project:
        members = {
            member.person_id: model.Member(role=member.role, bill_rate_cents=member.bill_rate_cents)
            for member in self.connection.execute(
                select(tables.project_members).where(tables.project_members.c.project_id == row.id)
            )
        }
        project_tasks = {
            task.id: model.Task(
                id=task.id,
                name=task.name,
                estimate_hundredths=task.estimate_hundredths,
                completed=task.completed,
            )
            for task in self.connection.execute(
                select(tables.tasks).where(tables.tasks.c.project_id == row.id)
            )
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
            members=members,
            tasks=project_tasks,
            version=row.version,
        )

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.loaded_tasks: dict[uuid.UUID, set[uuid.UUID]] = {}

    def get_by_task(self, task_id: uuid.UUID, *, for_update: bool = False) -> model.Project | None:
        project_id = self.connection.execute(
            select(tables.tasks.c.project_id).where(tables.tasks.c.id == task_id)
        ).scalar_one_or_none()
        return None if project_id is None else self.get(project_id, for_update=for_update)

    def save(self, aggregate: model.Project) -> None:
        if aggregate.version == aggregate.loaded_version:
            return
        super().save(aggregate)
        members = tables.project_members
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
            "status": aggregate.status,
            "notes": aggregate.notes,
        }

    def from_row(self, row: Any) -> model.TimeEntry:
        client_id = self.connection.execute(
            select(tables.projects.c.client_id).where(tables.projects.c.id == row.project_id)
        ).scalar_one()
        return model.TimeEntry(
            id=row.id,
            project_id=row.project_id,
            person_id=row.person_id,
            client_id=client_id,
            task_id=row.task_id,
            date=row.date,
            hours_hundredths=row.hours_hundredths,
            billable=row.billable,
            rate_cents=row.rate_cents,
            amount_cents=row.amount_cents,
            status=row.status,
            notes=row.notes,
            version=row.version,
        )

    def save(self, aggregate: model.TimeEntry) -> None:
        if not aggregate.deleted:
            super().save(aggregate)
            return
        result = self.connection.execute(
            delete(tables.time_entries).where(
                tables.time_entries.c.id == aggregate.id,
                tables.time_entries.c.version == aggregate.loaded_version,
            )
        )
        if result.rowcount != 1:
            raise errors.ConcurrentModification(
                f"time entry {aggregate.id} was changed by another request"
            )

    def hours_on(
        self, person_id: uuid.UUID, date: dt.date, excluding: uuid.UUID | None = None
    ) -> int:
        entries = tables.time_entries
        query = select(func.coalesce(func.sum(entries.c.hours_hundredths), 0)).where(
            entries.c.person_id == person_id, entries.c.date == date
        )
        if excluding is not None:
            query = query.where(entries.c.id != excluding)
        return int(self.connection.execute(query).scalar_one())

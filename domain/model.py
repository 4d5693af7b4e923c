"""Aggregates: plain classes that check their own rules and record their events."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from domain import errors, events

ROLES = ("admin", "manager", "member")


@dataclass
class Aggregate:
    """Each recorded event advances the version by one; the store checks it on save."""

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
class Client(Aggregate):
    id: uuid.UUID
    name: str

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
class Person(Aggregate):
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
        if role not in ROLES:
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


@dataclass
class Project(Aggregate):
    id: uuid.UUID
    name: str
    client_id: uuid.UUID
    manager_id: uuid.UUID
    start_date: dt.date
    end_date: dt.date | None
    budget_cents: int
    default_bill_rate_cents: int | None
    status: str = "open"

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

"""Commands: small frozen dataclasses, named as imperatives."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass


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

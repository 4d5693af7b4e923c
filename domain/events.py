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

    @property
    def event_type(self) -> str:
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in dataclasses.asdict(self).items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
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

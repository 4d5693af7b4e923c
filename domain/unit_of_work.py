"""The unit of work and repository interfaces the command handlers depend on."""

from __future__ import annotations

import uuid
from typing import Protocol, Self, TypeVar

from domain import model

A = TypeVar("A", bound=model.Aggregate)


class Repository(Protocol[A]):
    def add(self, aggregate: A) -> None: ...

    def get(self, aggregate_id: uuid.UUID) -> A | None: ...


class PersonRepository(Repository[model.Person], Protocol):
    def email_taken(self, email: str) -> bool: ...

    def add_token(self, person_id: uuid.UUID, token_hash: str) -> None: ...


class UnitOfWork(Protocol):
    clients: Repository[model.Client]
    people: PersonRepository
    projects: Repository[model.Project]
    last_position: int | None
    event_types: set[str]

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

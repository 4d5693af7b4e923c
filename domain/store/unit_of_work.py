"""The SQL unit of work: aggregate changes and their events commit in one transaction."""

from __future__ import annotations

from typing import Any, Self

from sqlalchemy import Connection, Engine

from domain import model, unit_of_work
from domain.policy import Policy
from domain.store import event_log
from domain.store.repositories import (
    ClientRepository,
    FirmRepository,
    PersonRepository,
    ProjectRepository,
    TableRepository,
    TimeEntryRepository,
    TimesheetRepository,
)


class SqlUnitOfWork:
    # Typed as the handlers see them (domain/unit_of_work.py), so that this class is a
    # UnitOfWork; `repositories` holds the same objects as the tables that save them.
    clients: unit_of_work.Repository[model.Client]
    people: unit_of_work.PersonRepository
    projects: unit_of_work.ProjectRepository
    time_entries: unit_of_work.TimeEntryRepository
    firm: unit_of_work.FirmRepository
    timesheets: unit_of_work.TimesheetRepository

    def __init__(
        self,
        engine: Engine,
        metadata: dict[str, Any] | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.engine = engine
        self.metadata = metadata or {}
        self.policy = policy or Policy()
        self.last_position: int | None = None
        self.event_types: set[str] = set()
        self.connection: Connection | None = None

    def __enter__(self) -> Self:
        self.connection = self.engine.connect()
        self.connection.begin()
        people = PersonRepository(self.connection)
        self._tables: tuple[TableRepository[Any], ...] = (
            ClientRepository(self.connection),
            people,
            ProjectRepository(self.connection),
            TimeEntryRepository(self.connection),
            FirmRepository(self.connection),
            TimesheetRepository(self.connection),
        )
        self._people = people
        (
            self.clients,
            self.people,
            self.projects,
            self.time_entries,
            self.firm,
            self.timesheets,
        ) = self._tables
        self.last_position = None
        self.event_types = set()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.connection is not None
        try:
            if self.connection.in_transaction():
                self.connection.rollback()
        finally:
            self.connection.close()
            self.connection = None

    @property
    def repositories(self) -> tuple[TableRepository[Any], ...]:
        return self._tables

    def commit(self) -> None:
        assert self.connection is not None
        pending: list[event_log.PendingEvent] = []
        for repository in self.repositories:
            for aggregate in repository.seen:
                repository.save(aggregate)
                pending.extend(
                    event_log.PendingEvent(
                        event=event,
                        aggregate_type=repository.aggregate_type,
                        aggregate_id=aggregate.id,
                        aggregate_version=version,
                        metadata=self.metadata,
                    )
                    for event, version in aggregate.pending_events
                )
                aggregate.pending_events.clear()
        self._people.save_tokens()
        positions = event_log.append(self.connection, pending)
        self.connection.commit()
        self.event_types = {item.event.event_type for item in pending}
        if positions:
            self.last_position = positions[-1]

    def rollback(self) -> None:
        assert self.connection is not None
        self.connection.rollback()

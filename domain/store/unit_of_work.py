"""The SQL unit of work: aggregate changes and their events commit in one transaction."""

from __future__ import annotations

from typing import Any, Self

from sqlalchemy import Connection, Engine

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
        self.clients = ClientRepository(self.connection)
        self.people = PersonRepository(self.connection)
        self.projects = ProjectRepository(self.connection)
        self.time_entries = TimeEntryRepository(self.connection)
        self.firm = FirmRepository(self.connection)
        self.timesheets = TimesheetRepository(self.connection)
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
        return (
            self.clients,
            self.people,
            self.projects,
            self.time_entries,
            self.firm,
            self.timesheets,
        )

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
        self.people.save_tokens()
        positions = event_log.append(self.connection, pending)
        self.connection.commit()
        self.event_types = {item.event.event_type for item in pending}
        if positions:
            self.last_position = positions[-1]

    def rollback(self) -> None:
        assert self.connection is not None
        self.connection.rollback()

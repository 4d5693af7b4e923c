"""The command service: run a command in a unit of work, then bring the read models it
concerns up to date (the critical ones in this process, the rest by waking the workers)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain import commands, handlers
from domain.handlers import Outcome
from domain.policy import Policy
from domain.store.db import Databases
from domain.store.unit_of_work import SqlUnitOfWork
from domain.unit_of_work import UnitOfWork
from readmodels.catchup.loop import catch_up
from readmodels.registry import affected_by


class Waker(Protocol):
    """Asks the workers to catch the named projections up to `position`."""

    def wake(self, projections: Iterable[str], position: int) -> None: ...


@dataclass(frozen=True)
class Metadata:
    """What the event log records about a command besides its events. `actor` is the person
    acting; None for the system (demo data, the first admin's registration)."""

    actor: uuid.UUID | None = None
    request_id: str | None = None
    idempotency_key: str | None = None

    def for_command(self, cmd: commands.Command) -> dict[str, Any]:
        return {
            "actor": None if self.actor is None else str(self.actor),
            "command": type(cmd).__name__,
            "request_id": self.request_id,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class Executed:
    """A command's outcome, and whether the read models it concerns critically (those a
    client reads its own write from at once) had reached it."""

    outcome: Outcome
    current: bool


@dataclass
class CommandService:
    """Runs commands. With `catch_up_critical` off, every projection a command concerns is
    woken and none is caught up here: the workers alone do it (the bench and the engine's
    tests measure them so)."""

    databases: Databases
    waker: Waker
    policy: Policy = field(default_factory=Policy)
    sync_timeout: float = 2.0
    catch_up_critical: bool = True

    def execute(self, cmd: commands.Command, metadata: Metadata | None = None) -> Executed:
        """Run the command's handler in a unit of work, then project its events."""
        outcome = handlers.handle(cmd, self.unit_of_work(metadata or Metadata(), cmd))
        return Executed(outcome, self.after_commit(outcome))

    def unit_of_work(
        self, metadata: Metadata, cmd: commands.Command | None = None
    ) -> SqlUnitOfWork:
        """A unit of work whose events record `metadata` for `cmd`."""
        recorded = metadata.for_command(cmd) if cmd is not None else {}
        return SqlUnitOfWork(self.databases.write, recorded, self.policy)

    def authorize(self, check: Callable[[UnitOfWork], object]) -> None:
        """Run an access check (domain/access.py) alone, in a unit of work that commits
        nothing: for a request refused before its command could run, whose caller must still
        learn first that they may not do this."""
        with self.unit_of_work(Metadata()) as uow:
            check(uow)

    def after_commit(self, outcome: Outcome) -> bool:
        """Catch the critical projections up in this process and wake the rest; True when
        each projection the command concerns critically has reached it."""
        if outcome.position is None:
            return True
        current = True
        to_wake = []
        for projection in affected_by(outcome.event_types):
            critical = bool(projection.critical_event_types & outcome.event_types)
            if critical and self.catch_up_critical:
                result = catch_up(
                    self.databases,
                    projection,
                    lock_timeout=self.sync_timeout,
                    time_slice=self.sync_timeout,
                )
                current = current and result.position >= outcome.position
                if result.caught_up:
                    continue
            elif critical:
                current = False
            to_wake.append(projection.name)
        self.waker.wake(to_wake, outcome.position)
        return current

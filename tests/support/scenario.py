"""Run commands through the real handlers and bring every projection up to date in-process."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from domain import commands, handlers
from domain.store.db import Databases
from domain.store.unit_of_work import SqlUnitOfWork
from readmodels.catchup.loop import catch_up
from readmodels.registry import PROJECTIONS
from readmodels.verify import CHECKS, verify
from service.commands import CommandService
from tests.support.stack import TEST_POLICY


class RecordingWaker:
    """Keeps the wakeups a command service sends, for a test that projects in-process."""

    def __init__(self) -> None:
        self.woken: list[tuple[list[str], int]] = []

    def wake(self, projections: Iterable[str], position: int) -> None:
        self.woken.append((list(projections), position))


def recording_service(databases: Databases) -> tuple[CommandService, RecordingWaker]:
    """A command service that catches nothing up itself and records what it wakes."""
    waker = RecordingWaker()
    return CommandService(databases, waker, TEST_POLICY, catch_up_critical=False), waker


class Scenario:
    def __init__(self, databases: Databases) -> None:
        self.databases = databases

    def run(self, cmd: commands.Command) -> handlers.Outcome:
        return handlers.handle(cmd, SqlUnitOfWork(self.databases.write, policy=TEST_POLICY))

    def client(self, name: str = "Acme") -> uuid.UUID:
        return self.run(commands.RegisterClient(name=name)).id

    def person(self, first: str, last: str, role: str = "member", **kw: Any) -> uuid.UUID:
        return self.run(
            commands.RegisterPerson(
                first_name=first,
                last_name=last,
                email=f"{uuid.uuid4().hex[:10]}@example.com",
                role=role,
                **kw,
            )
        ).id

    def project(
        self,
        client_id: uuid.UUID,
        manager_id: uuid.UUID,
        name: str = "Web",
        budget_cents: int = 1_000_000,
        **kw: Any,
    ) -> uuid.UUID:
        return self.run(
            commands.CreateProject(
                name=name,
                client_id=client_id,
                manager_id=manager_id,
                start_date=dt.date(2026, 1, 1),
                budget_cents=budget_cents,
                **kw,
            )
        ).id

    def member(
        self,
        project_id: uuid.UUID,
        person_id: uuid.UUID,
        rate: int | None = None,
        role: str = "Engineer",
    ) -> None:
        self.run(
            commands.AddMember(
                project_id=project_id, person_id=person_id, role=role, bill_rate_cents=rate
            )
        )

    def log(
        self,
        project_id: uuid.UUID,
        person_id: uuid.UUID,
        date: dt.date,
        hours: int,
        billable: bool = True,
        **kw: Any,
    ) -> uuid.UUID:
        return self.run(
            commands.LogTime(
                project_id=project_id,
                person_id=person_id,
                date=date,
                hours_hundredths=hours,
                billable=billable,
                **kw,
            )
        ).id

    def catch_up(self) -> None:
        for projection in PROJECTIONS.values():
            result = catch_up(self.databases, projection, time_slice=60)
            assert result.caught_up, result

    def drift(self) -> dict[str, str]:
        reports = {name: verify(self.databases, name) for name in CHECKS}
        return {name: drift.report() for name, drift in reports.items() if not drift.clean}

"""Fixtures for engine tests: the counting ledger projection, commands, and expectations."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from domain import commands, handlers
from domain.handlers import Outcome
from domain.store.tables import event_log
from readmodels.catchup.checkpoints import ensure_checkpoints
from readmodels.registry import PROJECTIONS
from service.commands import CommandService, Metadata
from tests.support import ledger
from tests.support.stack import TEST_POLICY, Process, Stack, start_worker
from workers.celery_app import make_celery

LEDGER_PLUGIN = ("-I", "tests.support.ledger_plugin")


@pytest.fixture
def with_ledger(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The stack with the test ledger projection registered, its tables empty."""
    with stack.databases.read.begin() as conn:
        for table in ledger.projection.shadow_tables():
            table.drop(conn, checkfirst=True)
        ledger.metadata.create_all(conn)
        ledger.faults_metadata.create_all(conn)
        conn.execute(ledger.test_ledger.delete())
        conn.execute(ledger.test_faults.delete())
    monkeypatch.setitem(PROJECTIONS, ledger.projection.name, ledger.projection)
    ensure_checkpoints(stack.databases)
    return stack


@pytest.fixture
def ledger_worker(with_ledger: Stack) -> Iterator[Process]:
    process = start_worker(with_ledger, *LEDGER_PLUGIN, env=fast_retries())
    yield process
    process.stop()


def fast_retries() -> dict[str, str]:
    return {"TALLY_PROJECTION_MAX_ATTEMPTS": "3", "TALLY_PROJECTION_RETRY_BASE": "0.2"}


class Commands:
    """Runs commands through the command service; the worker alone projects them (nothing is
    caught up in this process), or nothing does (`wake=False`)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.delivery = make_celery(stack.settings).delivery
        self.service = CommandService(
            stack.databases, self.delivery, TEST_POLICY, catch_up_critical=False
        )

    def run(self, cmd: commands.Command, wake: bool = True) -> Outcome:
        if not wake:
            return handlers.handle(cmd, self.service.unit_of_work(Metadata(), cmd))
        return self.service.execute(cmd).outcome

    def new_client(self, name: str = "Client") -> uuid.UUID:
        return self.run(commands.RegisterClient(name=name)).id

    def rename(self, client_id: uuid.UUID, name: str) -> Outcome:
        return self.run(commands.RenameClient(client_id=client_id, name=name))


@pytest.fixture
def run_commands(stack: Stack) -> Commands:
    return Commands(stack)


def expected_ledger(stack: Stack) -> dict[str, tuple[int, int]]:
    """The ledger recomputed from the event log itself."""
    client_id = event_log.c.aggregate_id
    with stack.databases.write.connect() as conn:
        rows = conn.execute(
            select(client_id, func.count(), func.sum(event_log.c.position))
            .where(event_log.c.event_type.in_(["ClientRegistered", "ClientRenamed"]))
            .group_by(client_id)
        )
        return {str(row[0]): (row[1], int(row[2])) for row in rows}


def actual_ledger(stack: Stack) -> dict[str, tuple[int, int]]:
    with stack.databases.read.connect() as conn:
        rows = conn.execute(select(ledger.test_ledger))
        return {row.client_id: (row.events, row.position_sum) for row in rows}


LedgerCheck = Callable[[], bool]


def ledger_matches(stack: Stack) -> LedgerCheck:
    return lambda: actual_ledger(stack) == expected_ledger(stack)

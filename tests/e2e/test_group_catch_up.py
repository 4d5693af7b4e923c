"""The group catch-up: several projections caught up in one transaction a batch, the log read
once, each event applied once per projection whichever path runs, failures left to the
per-projection path."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections import Counter

import pytest
import redis
from sqlalchemy import select

from domain import commands
from readmodels.catchup.checkpoints import checkpoint_position, head_position, locked_checkpoint
from readmodels.catchup.failures import RetryPolicy
from readmodels.catchup.group import catch_up_group
from readmodels.catchup.loop import catch_up
from readmodels.registry import PROJECTIONS, affected_by
from readmodels.tables import projection_checkpoints
from readmodels.verify import CHECKS, verify
from service.commands import CommandService
from tests.e2e.conftest import LEDGER_PLUGIN, Commands, actual_ledger, expected_ledger
from tests.support import ledger
from tests.support.scenario import Scenario
from tests.support.stack import TEST_POLICY, Stack, start_worker, wait_until
from tests.support.statements import statements_on
from workers.celery_app import make_celery
from workers.delivery import GROUP_TASK

postgres_only = pytest.mark.parametrize("stack", ["postgres"], indirect=True)
MONDAY = dt.date(2026, 11, 23)


def all_at_head(stack: Stack, names: list[str]) -> bool:
    head = head_position(stack.databases)
    return all(checkpoint_position(stack.databases, name) == head for name in names)


def assert_read_models_clean(stack: Stack) -> None:
    drift = {name: verify(stack.databases, name) for name in CHECKS}
    assert {name: d.report() for name, d in drift.items() if not d.clean} == {}


def firm(stack: Stack, entries: int) -> tuple[Scenario, uuid.UUID, list[uuid.UUID]]:
    """A project with three members; returns the scenario, the project and the members."""
    s = Scenario(stack.databases)
    manager = s.person("Mia", "Wong", "manager")
    project = s.project(s.client("Acme"), manager, default_bill_rate_cents=10000)
    members = [s.person(f"P{i}", "Lee") for i in range(3)]
    for member in members:
        s.member(project, member, rate=12000)
    log_entries(s, project, members, entries)
    return s, project, members


def log_entries(s: Scenario, project: uuid.UUID, members: list[uuid.UUID], count: int) -> None:
    for index in range(count):
        day = MONDAY + dt.timedelta(days=index // 3)
        s.log(project, members[index % 3], day, 100 + index)


def test_projections_at_different_checkpoints_get_each_event_once(
    with_ledger: Stack, run_commands: Commands
) -> None:
    stack = with_ledger
    s, project, members = firm(stack, 4)
    clients = [
        run_commands.run(commands.RegisterClient(name=f"C{i}"), wake=False).id for i in range(3)
    ]
    catch_up(stack.databases, PROJECTIONS["project_dashboards"])
    for index in range(5):
        run_commands.rename(clients[index % 3], f"first {index}")
    log_entries(s, project, members, 5)
    catch_up(stack.databases, PROJECTIONS["time_entry_rows"])
    catch_up(stack.databases, ledger.projection)
    for index in range(4):
        run_commands.rename(clients[index % 3], f"second {index}")
    log_entries(s, project, members, 3)
    catch_up(stack.databases, PROJECTIONS["timesheets"], batch_size=7, time_slice=0)
    positions = {n: checkpoint_position(stack.databases, n) for n in PROJECTIONS}
    assert len(set(positions.values())) >= 3, positions

    result = catch_up_group(stack.databases, PROJECTIONS.values(), batch_size=3)

    assert result.caught_up
    assert all_at_head(stack, list(PROJECTIONS))
    assert actual_ledger(stack) == expected_ledger(stack)
    assert_read_models_clean(stack)


def test_a_group_reads_the_events_from_a_separate_write_database(split_stack: Stack) -> None:
    split_stack.reset()
    s, project, members = firm(split_stack, 4)
    catch_up(split_stack.databases, PROJECTIONS["time_entry_rows"])
    log_entries(s, project, members, 5)

    result = catch_up_group(split_stack.databases, PROJECTIONS.values(), batch_size=4)

    assert result.caught_up
    assert all_at_head(split_stack, list(PROJECTIONS))
    assert_read_models_clean(split_stack)


def catch_up_statements(statements: list[str]) -> Counter[str]:
    """The catch-up's own statements by kind (the projectors' writes left out)."""
    kinds: Counter[str] = Counter()
    for statement in statements:
        if "FOR UPDATE" in statement:
            kinds["lock"] += 1
        elif "FROM event_log" in statement:
            kinds["events"] += 1
        elif statement.startswith("UPDATE projection_checkpoints"):
            kinds["advance"] += 1
    return kinds


@postgres_only
def test_a_group_batch_reads_the_events_once_however_many_projections_it_holds(
    stack: Stack,
) -> None:
    firm(stack, 9)
    head = head_position(stack.databases)
    batches = -(-head // 4) + 1  # windows of 4 positions from 0, then the idle batch
    counts = {}
    for names in (["project_dashboards", "directory"], list(PROJECTIONS)):
        stack.reset()
        firm(stack, 9)
        with statements_on(stack.databases.read) as statements:
            result = catch_up_group(stack.databases, [PROJECTIONS[n] for n in names], batch_size=4)
        assert result.caught_up
        counts[len(names)] = catch_up_statements(statements)
    # One locking read, one read of the log and one checkpoint update a batch (the idle
    # batch only locks), for two projections as for all of them.
    assert (
        counts[2]
        == counts[len(PROJECTIONS)]
        == Counter(lock=batches, events=batches - 1, advance=batches - 1)
    )
    stack.reset()
    firm(stack, 9)
    with statements_on(stack.databases.read) as statements:
        for projection in PROJECTIONS.values():
            catch_up(stack.databases, projection, batch_size=4)
    assert catch_up_statements(statements)["lock"] == batches * len(PROJECTIONS)


@postgres_only
def test_a_group_batch_skips_a_checkpoint_locked_by_another_transaction(
    with_ledger: Stack, run_commands: Commands
) -> None:
    stack = with_ledger
    clients = [
        run_commands.run(commands.RegisterClient(name=f"C{i}"), wake=False).id for i in range(3)
    ]
    for index in range(6):
        run_commands.run(
            commands.RenameClient(client_id=clients[index % 3], name=f"R{index}"), wake=False
        )
    group = [ledger.projection, PROJECTIONS["project_dashboards"], PROJECTIONS["directory"]]
    with locked_checkpoint(stack.databases, "test_ledger", 5):
        result = catch_up_group(stack.databases, group, batch_size=4)
        assert result.caught_up  # nothing left for the checkpoints it could take
        assert all_at_head(stack, ["project_dashboards", "directory"])
        assert checkpoint_position(stack.databases, "test_ledger") == 0
    assert actual_ledger(stack) == {}
    catch_up_group(stack.databases, group, batch_size=4)
    assert all_at_head(stack, ["test_ledger"])
    assert actual_ledger(stack) == expected_ledger(stack)


def failing_state(stack: Stack) -> tuple[int | None, int, int]:
    with stack.databases.read.connect() as conn:
        row = conn.execute(
            select(projection_checkpoints).where(projection_checkpoints.c.name == "test_ledger")
        ).one()
    return row.failing_position, row.failing_attempts, row.failures


def test_a_projector_raising_in_a_group_batch_is_retried_then_parked_as_alone(
    with_ledger: Stack, run_commands: Commands
) -> None:
    stack = with_ledger
    bad, good = (
        run_commands.run(commands.RegisterClient(name=n), wake=False).id for n in ("Bad", "Good")
    )
    catch_up(stack.databases, ledger.projection)
    ledger.inject_fault(stack.databases.read, bad, "fail")
    renames = [
        run_commands.run(commands.RenameClient(client_id=c, name=f"{c} {i}"), wake=False)
        for i, c in enumerate([good, bad, good, bad, good])
    ]
    group = [ledger.projection, PROJECTIONS["project_dashboards"], PROJECTIONS["directory"]]
    policy = RetryPolicy(max_attempts=2, base_delay=0.2)

    first = catch_up_group(stack.databases, group, policy=policy, batch_size=100)

    # The group batch was rolled back; the per-projection batch applied the events before
    # the failing one, recorded the failure and asks for a retry.
    assert [r.projection for r in first.retries] == ["test_ledger"]
    assert failing_state(stack)[:2] == (renames[1].position, 1)
    assert checkpoint_position(stack.databases, "test_ledger") == renames[0].position
    assert all_at_head(stack, ["project_dashboards", "directory"])
    # While the retry waits, group batches leave the projection alone.
    second = catch_up_group(stack.databases, group, policy=policy, batch_size=100)
    assert second.caught_up and not second.retries
    assert checkpoint_position(stack.databases, "test_ledger") == renames[0].position

    time.sleep(0.25)
    retried = catch_up(stack.databases, ledger.projection, policy=policy)  # the retry task
    assert retried.caught_up
    assert ledger.parked_positions(stack.databases.read) == [
        renames[1].position,
        renames[3].position,
    ]
    assert failing_state(stack) == (None, 0, 2)
    assert actual_ledger(stack)[str(good)] == expected_ledger(stack)[str(good)]
    assert actual_ledger(stack)[str(bad)][0] == 1  # only its registration got through


@postgres_only
def test_a_log_time_wakes_one_task_not_seven(stack: Stack) -> None:
    _, project, members = firm(stack, 0)
    delivery = make_celery(stack.settings).delivery
    service = CommandService(stack.databases, delivery, TEST_POLICY, catch_up_critical=False)
    broker = redis.Redis.from_url(stack.settings.broker_url)
    broker.delete("tally")
    log_time = commands.LogTime(
        project_id=project, person_id=members[0], date=MONDAY, hours_hundredths=100, billable=True
    )
    assert len(affected_by({"TimeLogged"})) == 7
    for _ in range(3):
        service.execute(log_time)
    queued = [json.loads(message)["headers"] for message in broker.lrange("tally", 0, -1)]
    # One task for the three commands: the first set the group's flag, the others found it.
    assert [(h["task"], h["shadow"]) for h in queued] == [
        (GROUP_TASK, f"catch_up group to {head_position(stack.databases) - 2}")
    ]


@pytest.mark.parametrize("stack", ["postgres", "embedded"], indirect=True)
def test_group_and_per_projection_tasks_racing_apply_each_event_once(
    with_ledger: Stack, run_commands: Commands
) -> None:
    stack = with_ledger
    clients = [run_commands.new_client(f"C{i}") for i in range(5)]
    for round_number in range(30):
        run_commands.run(
            commands.RenameClient(client_id=clients[round_number % 5], name=f"n {round_number}"),
            wake=False,
        )
    head = head_position(stack.databases)
    workers = [start_worker(stack, *LEDGER_PLUGIN) for _ in range(2)]
    try:
        celery = run_commands.delivery.celery
        for _ in range(15):
            celery.send_task("tally.catch_up", args=("test_ledger", head))
            celery.send_task(GROUP_TASK, args=(head,))
        in_process = [
            threading.Thread(
                target=catch_up_group,
                args=(stack.databases, PROJECTIONS.values()),
                kwargs={"batch_size": 3},
            ),
            threading.Thread(
                target=catch_up, args=(stack.databases, ledger.projection), kwargs={"batch_size": 2}
            ),
        ]
        for thread in in_process:
            thread.start()
        for thread in in_process:
            thread.join()
        wait_until(lambda: all_at_head(stack, list(PROJECTIONS)), timeout=30)
        wait_until(lambda: all("succeeded" in w.output() for w in workers), timeout=30)
    finally:
        for worker in workers:
            worker.stop()
    assert actual_ledger(stack) == expected_ledger(stack)
    assert_read_models_clean(stack)


def test_a_worker_projects_time_logged_through_the_group_task(
    stack: Stack, run_commands: Commands
) -> None:
    _, project, members = firm(stack, 0)
    worker = start_worker(stack)
    try:
        for index in range(6):
            run_commands.run(
                commands.LogTime(
                    project_id=project,
                    person_id=members[index % 3],
                    date=MONDAY + dt.timedelta(days=index),
                    hours_hundredths=150,
                    billable=True,
                )
            )
        wait_until(
            lambda: all_at_head(stack, [p.name for p in affected_by({"TimeLogged"})]),
            timeout=30,
            message=lambda: worker.output()[-3000:],
        )
    finally:
        worker.stop()
    assert "catch_up group to" in worker.output()
    assert "catch_up time_entry_rows" not in worker.output()
    assert_read_models_clean(stack)

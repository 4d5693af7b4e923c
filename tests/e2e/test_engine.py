"""The projection engine's guarantees, each shown with real processes and real failures."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

from domain import commands, errors
from domain.store import event_log as event_log_module
from domain.store import unit_of_work as uow_module
from readmodels.catchup.checkpoints import checkpoint_position, head_position, locked_checkpoint
from readmodels.catchup.loop import catch_up
from readmodels.dashboards import projection as dashboards
from readmodels.rebuild import rebuild
from readmodels.registry import PROJECTIONS
from readmodels.tables import project_dashboards, projection_checkpoints
from readmodels.verify import verify
from tests.conftest import make_app
from tests.e2e.conftest import LEDGER_PLUGIN, Commands, actual_ledger, expected_ledger
from tests.support import ledger
from tests.support.redis_server import RedisServer
from tests.support.stack import Process, Stack, start_beat, start_worker, wait_until

postgres_only = pytest.mark.parametrize("stack", ["postgres"], indirect=True)


def caught_up(stack: Stack, *names: str) -> Callable[[], bool]:
    def check() -> bool:
        head = head_position(stack.databases)
        return all(checkpoint_position(stack.databases, n) >= head for n in names)

    return check


@postgres_only
def test_out_of_order_commits_are_never_skipped(
    with_ledger: Stack,
    ledger_worker: Process,
    run_commands: Commands,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = with_ledger
    real_append = event_log_module.append
    rng = random.Random(1)

    def slow_append(connection: Any, pending: Any) -> list[int]:
        # Hold some transactions open before they append (later ones commit first), and
        # some after they append (holding the append lock while a reader looks).
        time.sleep(rng.choice([0, 0, 0.002, 0.02]))
        positions = real_append(connection, pending)
        time.sleep(rng.choice([0, 0, 0, 0.01]))
        return positions

    monkeypatch.setattr(uow_module.event_log, "append", slow_append)
    manager = run_commands.run(
        commands.RegisterPerson(
            first_name="Mo", last_name="Ng", email="mo@example.com", role="manager"
        )
    ).id
    clients = [run_commands.new_client(f"C{i}") for i in range(4)]
    failures: list[BaseException] = []

    def writer(seed: int) -> None:
        local = random.Random(seed)
        try:
            for step in range(12):
                action = local.random()
                if action < 0.3:
                    clients.append(run_commands.new_client(f"N{seed}-{step}"))
                elif action < 0.7:
                    # Two writers renaming one client: one of them is refused, no event.
                    with contextlib.suppress(errors.ConcurrentModification):
                        run_commands.rename(local.choice(clients), f"R{seed}-{step}")
                else:
                    run_commands.run(
                        commands.CreateProject(
                            name=f"P{seed}-{step}",
                            client_id=local.choice(clients),
                            manager_id=manager,
                            start_date=dt.date(2026, 1, 5),
                            budget_cents=100_00,
                        )
                    )
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    # A projection is woken only by events it handles; with no beat running here, wake both
    # as the sweep would, so that "caught up to the head" is a condition that can come true.
    run_commands.delivery.wake(["test_ledger", "project_dashboards"], 0)
    wait_until(
        caught_up(stack, "test_ledger", "project_dashboards"),
        timeout=30,
        message=lambda: ledger_worker.output()[-3000:],
    )
    assert actual_ledger(stack) == expected_ledger(stack)
    drift = verify(stack.databases, "project_dashboards")
    assert drift.clean, drift


def test_duplicate_and_concurrent_delivery_applies_each_event_once(
    with_ledger: Stack, run_commands: Commands
) -> None:
    stack = with_ledger
    clients = [run_commands.new_client(f"C{i}") for i in range(5)]
    for round_number in range(30):
        run_commands.rename(clients[round_number % 5], f"name {round_number}")
    head = head_position(stack.databases)
    workers = [start_worker(stack, *LEDGER_PLUGIN) for _ in range(2)]
    try:
        celery = run_commands.delivery.celery
        for _ in range(40):
            celery.send_task("tally.catch_up", args=("test_ledger", head))
        in_process = [
            threading.Thread(
                target=catch_up,
                args=(stack.databases, ledger.projection),
                kwargs={"batch_size": 3},
            )
            for _ in range(4)
        ]
        for thread in in_process:
            thread.start()
        for thread in in_process:
            thread.join()
        wait_until(caught_up(stack, "test_ledger"), timeout=30)
        wait_until(lambda: all("succeeded" in w.output() for w in workers), timeout=30)
    finally:
        for worker in workers:
            worker.stop()
    assert actual_ledger(stack) == expected_ledger(stack)


def catch_up_lines(output: str) -> int:
    """The worker's log lines about a catch-up task that covers the ledger."""
    return len(re.findall(r"catch_up (?:test_ledger|group) ", output))


@postgres_only
def test_commands_during_a_running_catch_up_queue_no_task_and_are_projected_by_it(
    with_ledger: Stack, run_commands: Commands, tmp_path: Any
) -> None:
    stack = with_ledger
    marker = tmp_path / "slow"
    slow = run_commands.new_client("Slow")
    others = [run_commands.new_client(f"O{i}") for i in range(4)]
    # Threads, so that a second task could start at once and find the first one at work.
    worker = start_worker(
        stack,
        *LEDGER_PLUGIN,
        "--pool",
        "threads",
        "--concurrency",
        "4",
        env={ledger.PAUSE_MARKER_ENV: str(marker)},
    )
    try:
        wait_until(caught_up(stack, "test_ledger"), timeout=20)
        ledger.inject_fault(stack.databases.read, slow, "slow")
        run_commands.rename(slow, "wake up")
        wait_until(marker.exists, timeout=20, message=lambda: worker.output()[-2000:])
        seen_before = catch_up_lines(worker.output())
        for index in range(20):
            run_commands.rename(others[index % 4], f"while busy {index}")
        # No beat here: only the task at work can bring these in.
        wait_until(
            caught_up(stack, "test_ledger"),
            timeout=30,
            message=lambda: worker.output()[-3000:],
        )
    finally:
        worker.stop()  # a warm shutdown: the task at work has logged its end
    tasks_during = catch_up_lines(worker.output()) - seen_before
    assert actual_ledger(stack) == expected_ledger(stack)
    # The task at work (the group's: a rename concerns several projections) is logged as
    # succeeded; twenty commands queued no other.
    assert tasks_during == 1, worker.output()[-3000:]


@postgres_only
def test_a_worker_killed_mid_batch_loses_and_double_counts_nothing(
    with_ledger: Stack, run_commands: Commands, tmp_path: Any
) -> None:
    stack = with_ledger
    marker = tmp_path / "paused"
    victim = run_commands.new_client("Victim")
    others = [run_commands.new_client(f"O{i}") for i in range(3)]
    ledger.inject_fault(stack.databases.read, victim, "pause")
    worker = start_worker(stack, *LEDGER_PLUGIN, env={ledger.PAUSE_MARKER_ENV: str(marker)})
    try:
        run_commands.rename(others[0], "wake up")
        wait_until(marker.exists, timeout=20, message=lambda: worker.output()[-2000:])
        for index, client_id in enumerate(others):
            run_commands.rename(client_id, f"while paused {index}")
    finally:
        worker.kill()  # also when the test fails: a paused batch holds its checkpoint
    with stack.databases.read.begin() as conn:
        conn.execute(ledger.test_faults.delete())
    # A task SIGKILLed on Redis comes back only after the visibility timeout; the sweep
    # (beat) does not wait for that.
    replacement = start_worker(stack, *LEDGER_PLUGIN)
    beat = start_beat(stack)
    try:
        wait_until(
            caught_up(stack, "test_ledger"),
            timeout=30,
            message=lambda: replacement.output()[-2000:],
        )
    finally:
        beat.stop()
        replacement.stop()
    assert actual_ledger(stack) == expected_ledger(stack)


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
def test_on_the_embedded_broker_a_killed_workers_task_comes_back_without_the_sweep(
    with_ledger: Stack, run_commands: Commands, tmp_path: Any
) -> None:
    """The task a worker held when it was SIGKILLed stays claimed in its folder; the next
    worker returns it to the queue and runs it. No beat runs here. (SQLite has one writer:
    the commands wait for the paused batch to die before they commit.)"""
    stack = with_ledger
    marker = tmp_path / "paused"
    victim = run_commands.new_client("Victim")
    others = [run_commands.new_client(f"O{i}") for i in range(3)]
    ledger.inject_fault(stack.databases.read, victim, "pause")
    # Every command before the worker starts: a paused batch holds SQLite's one write lock.
    run_commands.rename(others[0], "wake up")
    worker = start_worker(stack, *LEDGER_PLUGIN, env={ledger.PAUSE_MARKER_ENV: str(marker)})
    try:
        wait_until(marker.exists, timeout=20, message=lambda: worker.output()[-2000:])
    finally:
        worker.kill()
    for index, client_id in enumerate(others):
        run_commands.rename(client_id, f"after the kill {index}")
    claims = stack.settings.broker_folder / "claims"
    assert list(claims.glob("*/tally/*.msg")), "the killed worker held its task's message"
    with stack.databases.read.begin() as conn:
        conn.execute(ledger.test_faults.delete())
    replacement = start_worker(stack, *LEDGER_PLUGIN)
    try:
        wait_until(
            caught_up(stack, "test_ledger"),
            timeout=30,
            message=lambda: replacement.output()[-2000:],
        )
    finally:
        replacement.stop()
    assert re.search(r"returned \d+ messages claimed by", replacement.output())
    assert actual_ledger(stack) == expected_ledger(stack)


@postgres_only
def test_a_failing_key_is_retried_then_parked_while_other_keys_go_on(
    with_ledger: Stack,
    ledger_worker: Process,
    run_commands: Commands,
    app: Any,
    admin: dict[str, str],
) -> None:
    stack = with_ledger
    bad, good = run_commands.new_client("Bad"), run_commands.new_client("Good")
    wait_until(caught_up(stack, "test_ledger"), timeout=20)
    ledger.inject_fault(stack.databases.read, bad, "fail")
    run_commands.rename(bad, "Bad 2")
    run_commands.rename(good, "Good 2")
    run_commands.rename(bad, "Bad 3")
    last = run_commands.rename(good, "Good 3")

    wait_until(
        lambda: len(ledger.parked_positions(stack.databases.read)) == 2,
        timeout=30,
        message=lambda: ledger_worker.output()[-3000:],
    )
    wait_until(
        lambda: checkpoint_position(stack.databases, "test_ledger") >= last.position,
        timeout=20,
    )
    with stack.databases.read.connect() as conn:
        checkpoint = conn.execute(
            select(projection_checkpoints).where(projection_checkpoints.c.name == "test_ledger")
        ).one()
    assert checkpoint.failures >= 3  # three attempts, with backoff, before parking
    assert "injected fault" in checkpoint.last_error
    assert actual_ledger(stack)[str(good)] == expected_ledger(stack)[str(good)]
    assert actual_ledger(stack)[str(bad)][0] == 1  # only its registration got through

    client = app.test_client()
    listed = client.get("/api/v1/ops/projections/test_ledger/parked", headers=admin)
    assert listed.status_code == 200
    assert [item["position"] for item in listed.get_json()["items"]] == ledger.parked_positions(
        stack.databases.read
    )
    assert all(item["event_key"] == str(bad) for item in listed.get_json()["items"])
    status = client.get("/api/v1/ops/projections", headers=admin).get_json()["items"]
    assert {row["name"]: row for row in status}["test_ledger"]["status"] == "failing"

    with stack.databases.read.begin() as conn:
        conn.execute(ledger.test_faults.delete())
    retried = client.post("/api/v1/ops/projections/test_ledger/parked/retry", headers=admin)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["still_parked"] == 0
    assert ledger.parked_positions(stack.databases.read) == []
    assert actual_ledger(stack) == expected_ledger(stack)
    with stack.databases.read.connect() as conn:
        actions = conn.execute(text("SELECT action, actor FROM operator_actions")).all()
    assert [tuple(a) for a in actions] == [("retry", "admin@tally.local")]


@postgres_only
def test_when_redis_stops_commands_succeed_and_projections_catch_up_after(
    with_ledger: Stack,
    tmp_path: Any,
) -> None:
    with RedisServer(tmp_path) as redis_server:
        stack = redis_server.stack_for(with_ledger)
        app = make_app(stack)
        client = app.test_client()
        admin = {"Authorization": "Bearer test-admin-token"}
        worker = start_worker(stack, *LEDGER_PLUGIN)
        beat = start_beat(stack)
        try:
            first = client.post("/api/v1/clients", json={"name": "Before"}, headers=admin)
            assert first.status_code == 201
            redis_server.stop()
            started = time.monotonic()
            ids = []
            for index in range(10):
                response = client.post(
                    "/api/v1/clients", json={"name": f"During {index}"}, headers=admin
                )
                assert response.status_code == 201, response.get_json()
                ids.append(response.get_json()["id"])
            assert time.monotonic() - started < 10
            redis_server.start()
            wait_until(
                caught_up(stack, "test_ledger", "project_dashboards"),
                timeout=60,
                message=lambda: worker.output()[-3000:],
            )
        finally:
            beat.stop()
            worker.stop()
            app.extensions["tally"].databases.dispose()
    assert actual_ledger(with_ledger) == expected_ledger(with_ledger)


def test_rebuild_under_continuous_reads_never_shows_a_partial_table(
    stack: Stack, run_commands: Commands, app: Any, admin: dict[str, str]
) -> None:
    manager = run_commands.run(
        commands.RegisterPerson(
            first_name="Mo", last_name="Ng", email="mo@example.com", role="manager"
        )
    ).id
    client_id = run_commands.new_client("Acme")
    projects = [
        run_commands.run(
            commands.CreateProject(
                name=f"P{i}",
                client_id=client_id,
                manager_id=manager,
                start_date=dt.date(2026, 1, 5),
                budget_cents=100_00,
            ),
            wake=False,
        ).id
        for i in range(60)
    ]
    catch_up(stack.databases, dashboards)
    client = app.test_client()
    stop = threading.Event()
    seen: list[int] = []
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                with stack.databases.read.connect() as conn:
                    seen.append(
                        conn.execute(
                            select(text("count(*)")).select_from(project_dashboards)
                        ).scalar_one()
                    )
                response = client.get(
                    f"/api/v1/projects/{random.choice(projects)}/dashboard", headers=admin
                )
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.get_json()}")
            except Exception as error:
                failures.append(repr(error))

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for _ in range(3):
            result = rebuild(stack.databases, dashboards, batch_size=10)
            assert result.events > 60
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert failures == []
    assert seen and set(seen) == {60}
    assert verify(stack.databases, "project_dashboards").clean


@postgres_only
def test_a_changed_projector_version_is_rebuilt_automatically(
    with_ledger: Stack, run_commands: Commands
) -> None:
    stack = with_ledger
    for index in range(5):
        run_commands.rename(run_commands.new_client(f"C{index}"), f"D{index}")
    with stack.databases.read.begin() as conn:
        conn.execute(
            projection_checkpoints.update()
            .where(projection_checkpoints.c.name == "test_ledger")
            .values(version=0)
        )
        conn.execute(ledger.test_ledger.delete())
    worker = start_worker(stack, *LEDGER_PLUGIN)
    beat = start_beat(stack)
    try:

        def rebuilt() -> bool:
            with stack.databases.read.connect() as conn:
                version = conn.execute(
                    select(projection_checkpoints.c.version).where(
                        projection_checkpoints.c.name == "test_ledger"
                    )
                ).scalar_one()
            return version == 1

        wait_until(rebuilt, timeout=30, message=lambda: worker.output()[-3000:])
        wait_until(caught_up(stack, "test_ledger"), timeout=20)
    finally:
        beat.stop()
        worker.stop()
    assert "rebuild test_ledger" in worker.output()
    assert actual_ledger(stack) == expected_ledger(stack)


# On SQLite the checkpoint "lock" is the database's single write lock, which the command
# itself needs first: holding it from outside blocks the command, not just the sync path.
@postgres_only
def test_the_sync_path_answers_202_while_the_checkpoint_is_held(
    stack: Stack, run_commands: Commands
) -> None:
    app = make_app(stack, sync_timeout=0.5)
    client = app.test_client()
    admin = {"Authorization": "Bearer test-admin-token"}
    client_id = client.post("/api/v1/clients", json={"name": "A"}, headers=admin).get_json()["id"]
    manager = client.post(
        "/api/v1/people",
        json={"first_name": "M", "last_name": "N", "email": "m@example.com", "role": "manager"},
        headers=admin,
    ).get_json()["id"]
    body = {
        "name": "Held",
        "client_id": client_id,
        "manager_id": manager,
        "start_date": "2026-01-05",
        "budget": "10.00",
    }
    with locked_checkpoint(stack.databases, "project_dashboards", 5):
        started = time.monotonic()
        response = client.post("/api/v1/projects", json=body, headers=admin)
        waited = time.monotonic() - started
    assert response.status_code == 202, response.get_json()
    assert waited >= 0.4
    position = response.get_json()["position"]
    project_path = response.headers["Location"]

    def late_catch_up() -> None:
        time.sleep(0.5)
        catch_up(stack.databases, PROJECTIONS["project_dashboards"])

    thread = threading.Thread(target=late_catch_up)
    thread.start()
    waited_read = client.get(f"{project_path}?min_position={position}", headers=admin)
    thread.join()
    assert waited_read.status_code == 200
    assert int(waited_read.headers["X-Projection-Position"]) >= position
    app.extensions["tally"].databases.dispose()

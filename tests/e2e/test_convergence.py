"""Property: whatever commands arrive, every read model a real worker builds equals its
recomputation from the write tables, and a rebuild from position 0 gives the same tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from domain import commands, errors, model
from readmodels.catchup.checkpoints import checkpoint_position, head_position
from readmodels.rebuild import rebuild
from readmodels.registry import PROJECTIONS
from tests.e2e.conftest import Commands
from tests.support.scenario import Scenario
from tests.support.stack import Process, Stack, start_worker, wait_until

MONDAY = dt.date(2026, 11, 2)

days = st.integers(min_value=0, max_value=40)  # about six weeks, two month boundaries
hours = st.sampled_from([25, 100, 333, 750, 800, 1200])
pick = st.integers(min_value=0, max_value=50)

command_steps = st.one_of(
    st.tuples(st.just("log"), pick, pick, days, hours, st.booleans(), pick),
    st.tuples(st.just("amend"), pick, days, hours, st.booleans()),
    st.tuples(st.just("delete"), pick),
    st.tuples(st.just("approve"), pick),
    st.tuples(st.just("reject"), pick),
    st.tuples(st.just("rename_client"), pick, st.sampled_from(["Acme", "Globex", "Initech"])),
    st.tuples(
        st.just("rename_person"),
        pick,
        st.sampled_from(["Lee", "Ray", "Kim"]),
        st.sampled_from([3200, 4000]),
    ),
    st.tuples(st.just("budget"), pick, st.sampled_from([0, 50_000, 1_000_000])),
    st.tuples(st.just("cost_rate"), pick, st.sampled_from([None, 4000, 6333])),
    st.tuples(st.just("member_rate"), pick, pick, st.sampled_from([None, 9000, 15050])),
    st.tuples(st.just("close"), pick),
    st.tuples(st.just("reopen"), pick),
    st.tuples(st.just("task"), pick),
    st.tuples(st.just("complete"), pick),
    st.tuples(st.just("reopen_task"), pick),
    st.tuples(
        st.sampled_from(["archive_person", "archive_project", "archive_client"]),
        pick,
        st.booleans(),
    ),
    st.tuples(st.just("lock"), st.one_of(st.none(), st.integers(min_value=0, max_value=14))),
    st.tuples(
        st.sampled_from(["submit_week", "approve_week", "reject_week"]),
        pick,
        st.integers(min_value=0, max_value=5),
    ),
)


class World:
    """Two clients, three members and a manager, two projects; steps pick among them."""

    def __init__(self, run: Commands, s: Scenario) -> None:
        self.run = run
        self.clients = [s.client("Acme"), s.client("Globex")]
        self.manager = s.person("Mia", "Wong", "manager")
        self.people = [
            s.person("Ann", "Lee", default_bill_rate_cents=9000, cost_rate_cents=5000),
            s.person("Bob", "Ray"),
            s.person("Cy", "Kim", default_bill_rate_cents=12345, cost_rate_cents=7777),
        ]
        self.projects = [
            s.project(self.clients[0], self.manager, "Web", default_bill_rate_cents=10000),
            s.project(self.clients[1], self.manager, "App", budget_cents=0),
        ]
        for project in self.projects:
            for person in self.people[:2]:
                s.member(project, person)
        s.member(self.projects[1], self.people[2], rate=20000)
        self.entries: list[Any] = []
        self.tasks: list[Any] = []

    def _of(self, items: list[Any], index: int) -> Any:
        return items[index % len(items)] if items else None

    def apply(self, step: tuple[Any, ...]) -> None:
        kind, *args = step
        project = self._of(self.projects, args[0]) if args and args[0] is not None else None
        cmd: commands.Command | None = None
        if kind == "log":
            _, person, day, amount, billable, task = args
            task_id = self._of(self.tasks, task) if task % 3 == 0 else None
            cmd = commands.LogTime(
                project_id=project,
                person_id=self._of(self.people, person),
                date=MONDAY + dt.timedelta(days=day),
                hours_hundredths=amount,
                billable=billable,
                task_id=task_id,
            )
        elif kind == "amend" and self.entries:
            _, day, amount, billable = args
            cmd = commands.AmendTimeEntry(
                entry_id=self._of(self.entries, args[0]),
                changes={
                    "date": MONDAY + dt.timedelta(days=day),
                    "hours_hundredths": amount,
                    "billable": billable,
                },
            )
        elif kind in ("delete", "approve", "reject") and self.entries:
            entry = self._of(self.entries, args[0])
            cmd = {
                "delete": commands.DeleteTimeEntry(entry_id=entry),
                "approve": commands.ApproveTimeEntry(entry_id=entry),
                "reject": commands.RejectTimeEntry(entry_id=entry, reason="no"),
            }[kind]
        elif kind == "rename_client":
            cmd = commands.RenameClient(client_id=self._of(self.clients, args[0]), name=args[1])
        elif kind == "rename_person":
            cmd = commands.UpdatePerson(
                person_id=self._of(self.people, args[0]),
                changes={"last_name": args[1], "weekly_capacity_hundredths": args[2]},
            )
        elif kind == "cost_rate":
            cmd = commands.UpdatePerson(
                person_id=self._of(self.people, args[0]), changes={"cost_rate_cents": args[1]}
            )
        elif kind == "budget":
            cmd = commands.UpdateProject(project_id=project, changes={"budget_cents": args[1]})
        elif kind == "member_rate":
            cmd = commands.AddMember(
                project_id=project,
                person_id=self._of(self.people, args[1]),
                role="Engineer",
                bill_rate_cents=args[2],
            )
        elif kind == "close":
            cmd = commands.CloseProject(project_id=project)
        elif kind == "reopen":
            cmd = commands.ReopenProject(project_id=project)
        elif kind == "task":
            self.tasks.append(self.run.run(commands.AddTask(project_id=project, name="T")).id)
        elif kind in ("complete", "reopen_task") and self.tasks:
            task = self._of(self.tasks, args[0])
            cmd = (
                commands.CompleteTask(task_id=task)
                if kind == "complete"
                else commands.ReopenTask(task_id=task)
            )
        elif kind in ("submit_week", "approve_week", "reject_week"):
            person = self._of(self.people, args[0])
            week = model.week_of(MONDAY + dt.timedelta(weeks=args[1]))
            cmd = {
                "submit_week": commands.SubmitTimesheet(person, week),
                "approve_week": commands.ApproveTimesheet(person, week, actor_id=self.manager),
                "reject_week": commands.RejectTimesheet(person, week, reason="no"),
            }[kind]
        elif kind == "archive_person":
            cmd = commands.ArchivePerson(self._of(self.people, args[0]), args[1])
        elif kind == "archive_project":
            cmd = commands.ArchiveProject(project, args[1])
        elif kind == "archive_client":
            cmd = commands.ArchiveClient(self._of(self.clients, args[0]), args[1])
        elif kind == "lock":
            day = args[0]
            cmd = commands.SetLockDate(
                lock_date=None if day is None else MONDAY + dt.timedelta(days=day)
            )
        if cmd is None:
            return
        try:
            outcome = self.run.run(cmd)
        except errors.DomainError:
            return  # refused by a rule: no event, nothing to project
        if kind == "log":
            self.entries.append(outcome.id)


def snapshot(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with stack.databases.read.connect() as conn:
        for projection in PROJECTIONS.values():
            for table in projection.tables:
                columns = [c for c in table.c if c.name != "updated_at"]
                rows = conn.execute(select(*columns)).all()
                tables[table.name] = sorted(tuple(map(str, row)) for row in rows)
    return tables


@pytest.fixture(scope="module")
def pipeline(postgres_stack: Stack) -> Iterator[tuple[Stack, Process]]:
    postgres_stack.reset()
    worker = start_worker(postgres_stack)
    yield postgres_stack, worker
    worker.stop()


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(command_steps, min_size=5, max_size=45))
def test_read_models_converge_and_rebuild_to_the_same_tables(
    pipeline: tuple[Stack, Process], steps: list[tuple[Any, ...]]
) -> None:
    stack, worker = pipeline
    stack.reset()
    scenario = Scenario(stack.databases)
    world = World(Commands(stack), scenario)
    for step in steps:
        world.apply(step)
    head = head_position(stack.databases)
    # The worker has received every wakeup by now; wait for it to bring every projection up.
    world.run.delivery.wake(list(PROJECTIONS), head)

    def converged() -> bool:
        return all(checkpoint_position(stack.databases, name) >= head for name in PROJECTIONS)

    wait_until(converged, timeout=30, message=lambda: worker.output()[-3000:])
    assert scenario.drift() == {}
    incremental = snapshot(stack)
    for projection in PROJECTIONS.values():
        rebuild(stack.databases, projection)
    assert snapshot(stack) == incremental

"""Every change reaches every affected read row; each read model equals its recomputation."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from domain import commands
from readmodels import contributions, dashboards, timesheets
from readmodels.catchup.loop import catch_up
from readmodels.rebuild import rebuild
from readmodels.registry import PROJECTIONS
from readmodels.verify import verify
from tests.support.scenario import Scenario
from tests.support.stack import Stack

MONDAY = dt.date(2026, 11, 23)  # 2026-W48
SUNDAY = dt.date(2026, 11, 29)


def test_every_change_reaches_every_read_model(stack: Stack) -> None:
    every_change_reaches_every_read_model(stack)


def test_every_change_reaches_a_separate_read_database(split_stack: Stack) -> None:
    """Batches read events from the write database and apply them in the read database."""
    assert not split_stack.databases.same
    split_stack.reset()
    every_change_reaches_every_read_model(split_stack)


def every_change_reaches_every_read_model(stack: Stack) -> None:
    s = Scenario(stack.databases)
    acme = s.client("Acme")
    manager = s.person("Mia", "Wong", "manager")
    ann = s.person("Ann", "Lee", default_bill_rate_cents=9000)
    bob = s.person("Bob", "Ray")
    project = s.project(acme, manager, default_bill_rate_cents=10000)
    s.member(project, ann, rate=12000)
    s.member(project, bob)
    task = s.run(commands.AddTask(project_id=project, name="Build")).id
    s.run(commands.AddTask(project_id=project, name="Test"))
    first = s.log(project, ann, MONDAY, 750, task_id=task)
    moved = s.log(project, ann, SUNDAY, 400)
    flipped = s.log(project, bob, MONDAY, 300)
    rejected = s.log(project, bob, dt.date(2026, 11, 30), 200)
    deleted = s.log(project, manager, MONDAY, 100)
    s.catch_up()
    assert s.drift() == {}

    s.run(commands.AmendTimeEntry(entry_id=moved, changes={"date": dt.date(2026, 12, 1)}))
    s.run(commands.AmendTimeEntry(entry_id=flipped, changes={"billable": False}))
    s.run(commands.RejectTimeEntry(entry_id=rejected, reason="wrong day"))
    s.run(commands.DeleteTimeEntry(entry_id=deleted))
    s.run(commands.ApproveTimeEntry(entry_id=first))
    s.run(commands.AddMember(project_id=project, person_id=ann, role="Lead", bill_rate_cents=20000))
    s.run(commands.CompleteTask(task_id=task))
    s.run(commands.RenameClient(client_id=acme, name="Acme Holdings"))
    s.run(
        commands.UpdatePerson(
            person_id=ann, changes={"last_name": "Lee-Park", "weekly_capacity_hundredths": 3200}
        )
    )
    s.run(
        commands.UpdateProject(
            project_id=project, changes={"name": "Web 2", "budget_cents": 500_000}
        )
    )
    s.run(commands.SubmitTimesheet(person_id=ann, week="2026-W49"))
    s.run(commands.ApproveTimesheet(person_id=ann, week="2026-W49", actor_id=manager))
    s.run(commands.SubmitTimesheet(person_id=bob, week="2026-W48"))
    s.run(commands.RejectTimesheet(person_id=bob, week="2026-W48", reason="x"))
    s.run(commands.ArchiveProject(project))
    s.run(commands.ArchivePerson(bob))
    s.run(commands.CloseProject(project_id=project))
    s.run(commands.SetLockDate(lock_date=dt.date(2026, 11, 1)))
    s.catch_up()
    assert s.drift() == {}

    s.run(commands.ArchiveProject(project, archived=False))
    s.run(commands.ReopenProject(project_id=project))
    s.run(commands.ReopenTask(task_id=task))
    s.run(commands.AmendTimeEntry(entry_id=rejected, changes={"hours_hundredths": 250}))
    s.run(commands.RemoveMember(project_id=project, person_id=bob))
    s.catch_up()
    assert s.drift() == {}

    for projection in PROJECTIONS.values():
        rebuild(stack.databases, projection)
    assert s.drift() == {}


def test_a_catch_up_lingers_only_after_a_batch_that_reached_the_head(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Scenario(stack.databases)
    acme = s.client("Acme")
    manager = s.person("Mia", "Wong", "manager")
    ann = s.person("Ann", "Lee")
    project = s.project(acme, manager)
    s.member(project, ann)
    for day in range(4):
        s.log(project, ann, MONDAY + dt.timedelta(days=day), 100)
    budget_burn = PROJECTIONS["budget_burn"]
    pauses: list[float] = []
    monkeypatch.setattr(time, "sleep", pauses.append)

    # A backlog of several batches: no wait between them, one after the batch at the head.
    result = catch_up(stack.databases, budget_burn, batch_size=2, linger=0.05)
    assert result.caught_up
    assert pauses == [0.05]

    s.log(project, ann, MONDAY + dt.timedelta(days=5), 100)
    result = catch_up(stack.databases, budget_burn)
    assert result.caught_up and result.applied == 1
    assert pauses == [0.05]  # no linger unless asked (the sync path never asks)
    assert verify(stack.databases, "budget_burn").clean


def test_verify_catches_a_bug_in_a_helper_the_projectors_use(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify computes weeks, percentages and teams itself: a broken projector helper shows as
    drift instead of being repeated by the oracle."""
    s = Scenario(stack.databases)
    acme = s.client("Acme")
    manager = s.person("Mia", "Wong", "manager")
    project = s.project(acme, manager)
    s.log(project, manager, MONDAY, 750)

    def off_by_one_week(day: dt.date) -> tuple[str, dt.date]:
        return contributions.iso_week(day + dt.timedelta(weeks=1))

    monkeypatch.setattr(dashboards, "percent", lambda part, whole: Decimal("99.9"))
    monkeypatch.setattr(timesheets, "iso_week", off_by_one_week)
    s.catch_up()
    drift = s.drift()
    assert "budget_used_pct" in drift["project_dashboards"]
    assert "2026-W49" in drift["timesheets"]

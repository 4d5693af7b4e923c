"""`tally demo-data`: a firm of the size asked for, or a clear refusal."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from domain.store import tables
from readmodels.registry import PROJECTIONS
from service.demo import MAX_ENTRIES, DemoDataError, FirmSize, create_demo_data
from tests.support.scenario import Scenario, recording_service
from tests.support.stack import ROOT, Stack


def test_the_firm_grows_with_the_entries_asked_for() -> None:
    small, large = FirmSize.for_entries(400), FirmSize.for_entries(20_000)
    assert (small.weeks, small.members) == (7, 12)
    assert large.weeks == 52
    assert large.members * large.weeks * 5 >= 20_000
    assert large.managers >= 4


def test_demo_data_logs_every_entry_asked_for_within_working_days(sqlite_stack: Stack) -> None:
    """2,500 entries: twice what the old fixed firm of 16 people and 6 weeks could hold."""
    counts = create_demo_data(
        recording_service(sqlite_stack.databases)[0], projects=5, entries=2_500
    )
    entries = tables.time_entries
    day_totals = (
        select(func.sum(entries.c.hours_hundredths).label("total"))
        .group_by(entries.c.person_id, entries.c.date)
        .subquery()
    )
    with sqlite_stack.databases.write.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(entries)).scalar_one()
        fullest_day = conn.execute(select(func.max(day_totals.c.total))).scalar_one()
        weekend_days = [
            day for (day,) in conn.execute(select(entries.c.date).distinct()) if day.weekday() >= 5
        ]
    assert counts["entries"] == stored == 2_500
    assert counts["projects"] == 5
    assert fullest_day <= 1000
    assert weekend_days == []


@pytest.mark.parametrize(
    ("projects", "entries", "message"),
    [(0, 10, "at least one project"), (3, MAX_ENTRIES + 1, "demo data holds 0 to")],
)
def test_a_firm_the_demo_cannot_build_is_refused_before_anything_is_written(
    sqlite_stack: Stack, projects: int, entries: int, message: str
) -> None:
    with pytest.raises(DemoDataError, match=message):
        create_demo_data(
            recording_service(sqlite_stack.databases)[0], projects=projects, entries=entries
        )
    with sqlite_stack.databases.write.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.people)).scalar_one() == 0


def test_the_command_line_refuses_with_the_reason(sqlite_stack: Stack) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "demo-data", "--entries", str(MAX_ENTRIES + 1)],
        env=sqlite_stack.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert "tally demo-data: demo data holds 0 to 100,000 entries" in refused.stderr


def test_demo_data_exercises_weeks_the_lock_date_archive_and_costs(sqlite_stack: Stack) -> None:
    service, waker = recording_service(sqlite_stack.databases)
    counts = create_demo_data(service, projects=4, entries=300)
    entries, timesheets = tables.time_entries, tables.timesheets
    with sqlite_stack.databases.write.connect() as conn:
        statuses = set(conn.execute(select(entries.c.status).distinct()).scalars())
        actions = set(conn.execute(select(timesheets.c.last_action).distinct()).scalars())
        lock_date = conn.execute(select(tables.firm_settings.c.lock_date)).scalar_one()
        archived_people = conn.execute(
            select(func.count()).where(tables.people.c.archived.is_(True))
        ).scalar_one()
        archived_clients = conn.execute(
            select(func.count()).where(tables.clients.c.archived.is_(True))
        ).scalar_one()
        costed = conn.execute(select(func.count()).where(entries.c.cost_cents > 0)).scalar_one()
    assert statuses == {"draft", "submitted", "approved", "rejected"}
    assert actions == {"submitted", "approved"}
    assert counts["submitted_weeks"] > counts["approved_weeks"] > 0
    assert lock_date.isoformat() == counts["lock_date"]
    assert (archived_people, archived_clients) == (1, 1)
    assert costed == counts["entries"]
    woken = {name for names, _ in waker.woken for name in names}
    assert woken == set(PROJECTIONS), "demo data wakes the projections like any command"
    Scenario(sqlite_stack.databases).catch_up()
    assert Scenario(sqlite_stack.databases).drift() == {}

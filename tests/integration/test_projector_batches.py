"""The projectors' batch writes: a bounded number of statements per batch whatever its size,
later events of a batch winning over earlier ones, and the read models identical to what the
oracle (readmodels/verify.py) computes and to what one event per batch gives."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from domain import commands
from domain.money import percent
from readmodels import tables
from readmodels.catchup.checkpoints import checkpoint_position, read_window
from readmodels.catchup.loop import catch_up
from readmodels.dashboards import ProjectTotals
from readmodels.projection import MANY_ROWS_LIMIT
from readmodels.registry import PROJECTIONS, affected_by
from tests.support.scenario import Scenario
from tests.support.stack import Stack
from tests.support.statements import statements_on

MONDAY = dt.date(2026, 11, 30)
# The projections a LogTime concerns, and the most statements each may run for one batch of
# TimeLogged events, whatever its size.
STATEMENTS_PER_BATCH = {
    "project_dashboards": 2,
    "time_entry_rows": 2,
    "utilization": 1,
    "client_revenue": 1,
    "budget_burn": 1,
    "project_profitability": 1,
    "timesheets": 2,
}


def firm(s: Scenario) -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    """A client, three people and two projects they all work on, every projection caught up."""
    client = s.client("Acme")
    people = [s.person("Mia", "Wong", "manager"), s.person("Ann", "Lee"), s.person("Bo", "Kim")]
    projects = [s.project(client, people[0], name) for name in ("Web", "App")]
    for project in projects:
        for person in people:
            s.member(project, person, rate=12_345)
    s.catch_up()
    return client, people, projects


def test_a_batch_of_time_logged_costs_a_bounded_number_of_statements(stack: Stack) -> None:
    s = Scenario(stack.databases)
    _client, people, projects = firm(s)
    for i in range(12):
        s.log(projects[i % 2], people[i % 3], MONDAY - dt.timedelta(days=7 * (i % 4)), 25 + i)
    assert {p.name for p in affected_by({"TimeLogged"})} == set(STATEMENTS_PER_BATCH)
    for name, most in STATEMENTS_PER_BATCH.items():
        projection = PROJECTIONS[name]
        for size in (1, 2, 12):
            with stack.databases.read.connect() as conn:
                after = checkpoint_position(stack.databases, name)
                batch = read_window(conn, projection, after, 10_000).events[:size]
                conn.rollback()
                assert [e.event_type for e in batch] == ["TimeLogged"] * size
                with conn.begin(), statements_on(stack.databases.read) as statements:
                    projection.apply_batch(conn, projection.live_tables(), batch)
                    conn.rollback()
            assert 1 <= len(statements) <= most, (name, size, statements)
    s.catch_up()
    assert s.drift() == {}


def test_a_batch_of_more_rows_than_one_statement_takes_gives_the_same_read_models(
    stack: Stack,
) -> None:
    """Above MANY_ROWS_LIMIT rows (a rebuild's batches) the rows go one statement each."""
    s = Scenario(stack.databases)
    _client, people, projects = firm(s)
    count = MANY_ROWS_LIMIT + 10
    for i in range(count):
        s.log(projects[i % 2], people[i % 3], MONDAY - dt.timedelta(days=i), 25 + i)
    for projection in affected_by({"TimeLogged"}):
        result = catch_up(stack.databases, projection, batch_size=500)
        assert result.caught_up and result.applied == count, (projection.name, result)
    assert s.drift() == {}


def test_later_events_of_a_batch_win(stack: Stack) -> None:
    """In one batch: two entries in one week, an entry logged then amended twice, one logged
    then amended then deleted, and an earlier entry amended then deleted."""
    s = Scenario(stack.databases)
    _client, people, projects = firm(s)
    earlier = s.log(projects[0], people[1], MONDAY, 100)
    s.catch_up()
    s.log(projects[0], people[1], MONDAY, 200)
    s.log(projects[0], people[1], MONDAY + dt.timedelta(days=1), 300)
    edited = s.log(projects[1], people[2], MONDAY, 400)
    s.run(commands.AmendTimeEntry(edited, {"hours_hundredths": 450, "notes": "first"}))
    s.run(commands.AmendTimeEntry(edited, {"date": MONDAY + dt.timedelta(days=8)}))
    gone = s.log(projects[1], people[2], MONDAY + dt.timedelta(days=2), 500)
    s.run(commands.AmendTimeEntry(gone, {"hours_hundredths": 550}))
    s.run(commands.DeleteTimeEntry(gone))
    s.run(commands.AmendTimeEntry(earlier, {"billable": False}))
    s.run(commands.DeleteTimeEntry(earlier))
    for projection in affected_by({"TimeLogged"}):
        result = catch_up(stack.databases, projection, batch_size=500)
        assert result.caught_up and result.applied > 5, result
    assert s.drift() == {}
    with stack.databases.read.connect() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                select(tables.time_entry_rows).where(
                    tables.time_entry_rows.c.person_id.in_(people[1:])
                )
            )
        }
        weeks = conn.execute(
            select(tables.timesheet_weeks.c.week, tables.timesheet_weeks.c.hundredths)
            .where(tables.timesheet_weeks.c.person_id == people[2])
            .order_by(tables.timesheet_weeks.c.week)
        ).all()
    assert earlier not in rows and gone not in rows
    assert (rows[edited].hours_hundredths, rows[edited].notes) == (450, "first")
    assert rows[edited].date == MONDAY + dt.timedelta(days=8)
    assert weeks == [("2026-W50", 450)]  # the week it was logged in is gone again


@pytest.mark.parametrize("budget", [0, 1, 3, 7, 16, 333, 1_000_000, 99_999_999_999])
def test_the_budget_used_is_percent_of_the_billed_amount(stack: Stack, budget: int) -> None:
    """The budget used after each batch is domain.money.percent of the billed amount, halves
    rounded away from zero, on both back ends."""
    board = tables.project_dashboards
    project_id = uuid.uuid4()
    billed = [0, 1, 2, 5, 8, 1, 123_456_789, -3]
    with stack.databases.read.begin() as conn:
        conn.execute(
            insert(board).values(
                project_id=project_id,
                name="P",
                status="open",
                client_id=uuid.uuid4(),
                client_name="C",
                manager_id=uuid.uuid4(),
                manager_name="M",
                start_date=MONDAY,
                budget_cents=budget,
                total_hundredths=0,
                billable_hundredths=0,
                billed_cents=0,
                budget_used_pct=Decimal("0.0"),
                active_task_count=0,
                completed_task_count=0,
                team=[],
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    total = 0
    for amount in billed:
        total += amount
        totals = ProjectTotals()
        totals.deltas[project_id] = [0, 0, amount, 0] if amount else [1, 0, 0, 0]
        totals.at[project_id] = dt.datetime.now(dt.UTC)
        with stack.databases.read.begin() as conn:
            totals.flush(conn, PROJECTIONS["project_dashboards"].live_tables())
            stored = conn.execute(
                select(board.c.budget_used_pct).where(board.c.project_id == project_id)
            ).scalar_one()
        assert stored == percent(total, budget), (total, budget)

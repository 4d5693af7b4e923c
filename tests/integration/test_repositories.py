"""The SQL repositories load what they saved, on PostgreSQL and on the embedded default: a
project comes with its members and tasks in one statement, a time entry with its client."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from domain import commands, errors, handlers, model
from domain.store import tables
from domain.store.unit_of_work import SqlUnitOfWork
from tests.support.stack import Stack


@dataclass
class Firm:
    client_id: uuid.UUID
    manager_id: uuid.UUID
    member_id: uuid.UUID
    project_id: uuid.UUID


def run(stack: Stack, command: commands.Command) -> handlers.Outcome:
    return handlers.handle(command, SqlUnitOfWork(stack.databases.write))


def make_firm(stack: Stack) -> Firm:
    client_id = run(stack, commands.RegisterClient(name="Acme")).id
    manager_id, member_id = (
        run(
            stack,
            commands.RegisterPerson(
                first_name=name, last_name="Lee", email=f"{name}@example.com", role=role
            ),
        ).id
        for name, role in (("ann", "manager"), ("ned", "member"))
    )
    project_id = run(
        stack,
        commands.CreateProject(
            name="Web",
            client_id=client_id,
            manager_id=manager_id,
            start_date=dt.date(2026, 1, 1),
            budget_cents=100_000,
        ),
    ).id
    return Firm(client_id, manager_id, member_id, project_id)


@pytest.fixture
def firm(stack: Stack) -> Firm:
    return make_firm(stack)


def load(stack: Stack, project_id: uuid.UUID) -> model.Project:
    with SqlUnitOfWork(stack.databases.write) as uow:
        project = uow.projects.get(project_id)
        assert project is not None
        return project


def test_a_project_without_members_or_tasks_loads_with_none(stack: Stack, firm: Firm) -> None:
    project = load(stack, firm.project_id)
    assert (project.members, project.tasks) == ({}, {})
    assert (project.name, project.client_id, project.version) == ("Web", firm.client_id, 1)


def test_a_project_loads_its_members_and_tasks_as_saved(stack: Stack, firm: Firm) -> None:
    run(stack, commands.AddMember(firm.project_id, firm.manager_id, "Lead", 15_000))
    run(stack, commands.AddMember(firm.project_id, firm.member_id, "Developer"))
    design = run(stack, commands.AddTask(firm.project_id, "Design", 1_250)).id
    build = run(stack, commands.AddTask(firm.project_id, "Build")).id
    run(stack, commands.CompleteTask(design))

    project = load(stack, firm.project_id)

    assert project.members == {
        firm.manager_id: model.Member(role="Lead", bill_rate_cents=15_000),
        firm.member_id: model.Member(role="Developer", bill_rate_cents=None),
    }
    assert project.tasks == {
        design: model.Task(id=design, name="Design", estimate_hundredths=1_250, completed=True),
        build: model.Task(id=build, name="Build", estimate_hundredths=None, completed=False),
    }
    assert project.version == 6


def test_saving_a_loaded_project_keeps_its_tasks_and_members(stack: Stack, firm: Firm) -> None:
    """A second task added to a loaded project: the first is updated, not inserted again."""
    run(stack, commands.AddMember(firm.project_id, firm.member_id, "Developer"))
    design = run(stack, commands.AddTask(firm.project_id, "Design")).id
    build = run(stack, commands.AddTask(firm.project_id, "Build")).id

    with stack.databases.write.connect() as conn:
        rows = conn.execute(
            select(tables.tasks.c.id).where(tables.tasks.c.project_id == firm.project_id)
        ).scalars()
        assert set(rows) == {design, build}
    assert set(load(stack, firm.project_id).members) == {firm.member_id}


def test_a_project_is_found_by_its_task(stack: Stack, firm: Firm) -> None:
    task_id = run(stack, commands.AddTask(firm.project_id, "Design")).id
    with SqlUnitOfWork(stack.databases.write) as uow:
        for for_update in (False, True):
            project = uow.projects.get_by_task(task_id, for_update=for_update)
            assert project is not None and project.id == firm.project_id
        assert uow.projects.get_by_task(uuid.uuid4()) is None


def test_a_time_entry_loads_with_its_projects_client(stack: Stack, firm: Firm) -> None:
    run(stack, commands.AddMember(firm.project_id, firm.member_id, "Developer", 9_000))
    entry_id = run(
        stack,
        commands.LogTime(firm.project_id, firm.member_id, dt.date(2026, 2, 2), 150, True),
    ).id
    with SqlUnitOfWork(stack.databases.write) as uow:
        entry = uow.time_entries.get(entry_id)
        assert entry is not None
        assert (entry.client_id, entry.hours_hundredths, entry.amount_cents) == (
            firm.client_id,
            150,
            13_500,
        )
        assert uow.time_entries.get(uuid.uuid4()) is None


def test_locking_a_time_entry_leaves_its_project_unlocked(pg_stack: Stack) -> None:
    """The entry is loaded joined to its project, but only the entry's row is locked: a
    command on the project must not wait for one on an entry."""
    firm_ = make_firm(pg_stack)
    run(pg_stack, commands.AddMember(firm_.project_id, firm_.member_id, "Developer"))
    entry_id = run(
        pg_stack,
        commands.LogTime(firm_.project_id, firm_.member_id, dt.date(2026, 2, 2), 150, True),
    ).id
    with SqlUnitOfWork(pg_stack.databases.write) as uow:
        assert uow.time_entries.get(entry_id, for_update=True) is not None
        with pg_stack.databases.write.connect() as other:
            locked = select(tables.projects.c.id).where(tables.projects.c.id == firm_.project_id)
            assert other.execute(locked.with_for_update(nowait=True)).scalar_one()
            entry = select(tables.time_entries.c.id).where(tables.time_entries.c.id == entry_id)
            with pytest.raises(OperationalError, match="could not obtain lock"):
                other.execute(entry.with_for_update(nowait=True))


def test_a_project_locked_after_a_wait_loads_the_members_committed_meanwhile(
    pg_stack: Stack,
) -> None:
    """Loaded for update while another transaction holds the project and adds a member: once
    the lock is granted, the project comes with that member. (Locked and loaded in one
    statement, the members would be read from before the wait, and saving the project would
    delete the new member again.)"""
    firm_ = make_firm(pg_stack)
    engine = pg_stack.databases.write
    loaded: list[model.Project | None] = []

    def load_for_update() -> None:
        with SqlUnitOfWork(engine) as uow:
            loaded.append(uow.projects.get(firm_.project_id, for_update=True))

    with SqlUnitOfWork(engine) as holder:
        project = holder.projects.get(firm_.project_id, for_update=True)
        assert project is not None
        project.add_member(firm_.member_id, "Developer", None)
        waiter = threading.Thread(target=load_for_update)
        waiter.start()
        wait_until_blocked_on_a_lock(pg_stack)
        holder.commit()
    waiter.join(timeout=10)

    assert loaded and loaded[0] is not None
    assert set(loaded[0].members) == {firm_.member_id}
    assert loaded[0].version == 2


def wait_until_blocked_on_a_lock(stack: Stack) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    with stack.databases.write_autocommit.connect() as conn:
        while not conn.execute(waiting).scalar_one():
            assert time.monotonic() < deadline, "the second load never waited for the lock"
            time.sleep(0.01)


def count_statements(stack: Stack, command: commands.Command) -> int:
    statements: list[str] = []

    def counted(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = stack.databases.write
    event.listen(engine, "before_cursor_execute", counted)
    try:
        run(stack, command)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return len(statements)


def test_log_time_runs_four_statements(pg_stack: Stack) -> None:
    """The person locked; the project with the lock date and the day's hours; the entry; the
    append lock with the event (and BEGIN and COMMIT, which are no statements)."""
    firm_ = make_firm(pg_stack)
    run(pg_stack, commands.AddMember(firm_.project_id, firm_.member_id, "Developer"))
    log = commands.LogTime(firm_.project_id, firm_.member_id, dt.date(2026, 2, 2), 150, True)
    assert count_statements(pg_stack, log) <= 4


def test_a_command_appends_its_events_in_their_order(stack: Stack, firm: Firm) -> None:
    """Several events of one command take ascending positions in the order recorded."""
    run(stack, commands.AddMember(firm.project_id, firm.member_id, "Developer"))
    monday = dt.date(2026, 2, 2)
    for day in range(3):
        log = commands.LogTime(
            firm.project_id, firm.member_id, monday + dt.timedelta(days=day), 100, True
        )
        run(stack, log)
    week = model.week_of(monday)
    before = run(stack, commands.AddTask(firm.project_id, "Design", 100)).position
    assert before is not None
    outcome = run(stack, commands.SubmitTimesheet(firm.member_id, week))
    log_, entries = tables.event_log, tables.time_entries
    with stack.databases.write.connect() as conn:
        appended = conn.execute(
            select(log_.c.event_type, log_.c.aggregate_id)
            .where(log_.c.position > before)
            .order_by(log_.c.position)
        ).all()
        entry_ids = conn.execute(select(entries.c.id).order_by(entries.c.id)).scalars().all()
    # The unit of work saves time entries (loaded in id order) before the timesheet.
    assert [tuple(row) for row in appended] == [
        *(("TimeEntrySubmitted", entry_id) for entry_id in entry_ids),
        ("TimesheetActed", model.timesheet_id(firm.member_id, week)),
    ]
    assert outcome.position == before + len(appended)


def test_a_log_time_waiting_for_the_person_counts_the_hours_logged_meanwhile(
    pg_stack: Stack,
) -> None:
    """Another command holds the person's lock and logs 20 hours on the day: a LogTime of 10
    hours that waited for it is refused (its hours are read after the lock is granted)."""
    firm_ = make_firm(pg_stack)
    run(pg_stack, commands.AddMember(firm_.project_id, firm_.member_id, "Developer"))
    day = dt.date(2026, 2, 2)
    outcomes: list[object] = []

    def log_ten_hours() -> None:
        try:
            outcomes.append(
                run(pg_stack, commands.LogTime(firm_.project_id, firm_.member_id, day, 1000, True))
            )
        except errors.DomainError as error:
            outcomes.append(error)

    with SqlUnitOfWork(pg_stack.databases.write) as holder:
        person = holder.people.lock(firm_.member_id)
        project = holder.projects.get(firm_.project_id)
        assert person is not None and project is not None
        entry = model.TimeEntry.log(
            project=project,
            person=person,
            date=day,
            hours_hundredths=2000,
            billable=True,
            task_id=None,
            notes=None,
            latest_date=dt.date(2099, 1, 1),
        )
        holder.time_entries.add(entry)
        waiter = threading.Thread(target=log_ten_hours)
        waiter.start()
        wait_until_blocked_on_a_lock(pg_stack)
        holder.commit()
    waiter.join(timeout=10)
    assert len(outcomes) == 1 and isinstance(outcomes[0], errors.DailyLimitExceeded)


def test_a_log_time_waiting_for_a_lock_date_being_set_is_refused_by_it(pg_stack: Stack) -> None:
    firm_ = make_firm(pg_stack)
    run(pg_stack, commands.AddMember(firm_.project_id, firm_.member_id, "Developer"))
    run(pg_stack, commands.SetLockDate(dt.date(2026, 1, 1)))
    day = dt.date(2026, 2, 2)
    outcomes: list[object] = []

    def log_time() -> None:
        log = commands.LogTime(
            firm_.project_id, firm_.member_id, day, 100, True, actor_id=firm_.member_id
        )
        try:
            outcomes.append(run(pg_stack, log))
        except errors.DomainError as error:
            outcomes.append(error)

    with SqlUnitOfWork(pg_stack.databases.write) as holder:
        settings = holder.firm.current(for_update=True)
        settings.set_lock_date(day, None)
        waiter = threading.Thread(target=log_time)
        waiter.start()
        wait_until_blocked_on_a_lock(pg_stack)
        holder.commit()
    waiter.join(timeout=10)
    assert len(outcomes) == 1 and isinstance(outcomes[0], errors.PeriodLocked)

"""Domain rules for time entries, through the handlers, on the in-memory unit of work."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain import commands, errors, handlers, model
from domain.policy import Policy
from tests.unit.fakes import FakeUnitOfWork

DAY = dt.date(2026, 11, 23)


def person(uow: FakeUnitOfWork, role: str = "member", rate: int | None = None) -> uuid.UUID:
    return handlers.register_person(
        commands.RegisterPerson(
            first_name="P",
            last_name=uuid.uuid4().hex[:6],
            email=f"{uuid.uuid4().hex}@example.com",
            role=role,
            default_bill_rate_cents=rate,
        ),
        uow,
    ).id


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def setup(uow: FakeUnitOfWork) -> dict[str, uuid.UUID]:
    manager = person(uow, "manager")
    worker = person(uow, "member", rate=9000)
    client = handlers.register_client(commands.RegisterClient(name="Acme"), uow).id
    project = handlers.create_project(
        commands.CreateProject(
            name="Web",
            client_id=client,
            manager_id=manager,
            start_date=dt.date(2026, 1, 1),
            budget_cents=1_000_000,
        ),
        uow,
    ).id
    handlers.add_member(
        commands.AddMember(project_id=project, person_id=worker, role="Engineer"), uow
    )
    return {"manager": manager, "worker": worker, "client": client, "project": project}


def log(uow: FakeUnitOfWork, s: dict[str, uuid.UUID], hours: int = 750, **kw: object) -> uuid.UUID:
    values = {
        "project_id": s["project"],
        "person_id": s["worker"],
        "date": DAY,
        "hours_hundredths": hours,
        "billable": True,
    } | kw
    return handlers.log_time(commands.LogTime(**values), uow).id  # type: ignore[arg-type]


def last_event(uow: FakeUnitOfWork) -> object:
    return uow.log[-1][1]


def test_the_rate_is_the_member_rate_else_project_else_person_else_zero(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    log(uow, setup)
    assert uow.time_entries.items[log(uow, setup, hours=100)].rate_cents == 9000  # person
    handlers.update_project(
        commands.UpdateProject(
            project_id=setup["project"], changes={"default_bill_rate_cents": 11000}
        ),
        uow,
    )
    assert uow.time_entries.items[log(uow, setup, hours=100)].rate_cents == 11000  # project
    handlers.add_member(
        commands.AddMember(
            project_id=setup["project"],
            person_id=setup["worker"],
            role="Lead",
            bill_rate_cents=15000,
        ),
        uow,
    )
    entry = uow.time_entries.items[log(uow, setup, hours=100)]
    assert entry.rate_cents == 15000  # member
    bare = person(uow)
    handlers.add_member(
        commands.AddMember(project_id=setup["project"], person_id=bare, role="Intern"), uow
    )
    handlers.update_project(
        commands.UpdateProject(
            project_id=setup["project"], changes={"default_bill_rate_cents": None}
        ),
        uow,
    )
    zero = log(uow, setup, hours=100, person_id=bare)
    assert uow.time_entries.items[zero].rate_cents == 0


def test_a_later_rate_change_does_not_rewrite_logged_entries(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    entry_id = log(uow, setup, hours=333)
    handlers.add_member(
        commands.AddMember(
            project_id=setup["project"],
            person_id=setup["worker"],
            role="Lead",
            bill_rate_cents=50000,
        ),
        uow,
    )
    handlers.amend_time_entry(
        commands.AmendTimeEntry(entry_id=entry_id, changes={"hours_hundredths": 150}), uow
    )
    entry = uow.time_entries.items[entry_id]
    assert entry.rate_cents == 9000
    assert entry.amount_cents == 13500  # 1.5 h x 90.00


def test_amounts_round_half_up_per_entry(uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]) -> None:
    handlers.add_member(
        commands.AddMember(
            project_id=setup["project"], person_id=setup["worker"], role="X", bill_rate_cents=333
        ),
        uow,
    )
    entry_id = log(uow, setup, hours=150)  # 1.5 h x 3.33 = 4.995
    assert uow.time_entries.items[entry_id].amount_cents == 500


def test_cannot_log_more_than_24_hours_on_one_day(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    log(uow, setup, hours=1300)
    with pytest.raises(errors.DailyLimitExceeded):
        log(uow, setup, hours=1300)
    log(uow, setup, hours=1100)
    log(uow, setup, hours=1300, date=DAY + dt.timedelta(days=1))


def test_amending_counts_the_other_entries_of_the_day_only(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    first = log(uow, setup, hours=1200)
    log(uow, setup, hours=1000)
    handlers.amend_time_entry(
        commands.AmendTimeEntry(entry_id=first, changes={"hours_hundredths": 1400}), uow
    )
    with pytest.raises(errors.DailyLimitExceeded):
        handlers.amend_time_entry(
            commands.AmendTimeEntry(entry_id=first, changes={"hours_hundredths": 1401}), uow
        )


def test_time_only_on_open_projects(uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]) -> None:
    entry_id = log(uow, setup)
    handlers.close_project(commands.CloseProject(project_id=setup["project"]), uow)
    with pytest.raises(errors.ProjectClosed):
        log(uow, setup)
    with pytest.raises(errors.ProjectClosed):
        handlers.amend_time_entry(
            commands.AmendTimeEntry(entry_id=entry_id, changes={"notes": "x"}), uow
        )
    with pytest.raises(errors.ProjectClosed):
        handlers.delete_time_entry(commands.DeleteTimeEntry(entry_id=entry_id), uow)
    handlers.reopen_project(commands.ReopenProject(project_id=setup["project"]), uow)
    log(uow, setup, hours=100)


def test_only_members_or_the_manager_log_time(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    outsider = person(uow)
    with pytest.raises(errors.NotOnProject):
        log(uow, setup, person_id=outsider)
    log(uow, setup, person_id=setup["manager"])


def test_a_task_must_belong_to_the_project(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    with pytest.raises(errors.InvalidReference):
        log(uow, setup, task_id=uuid.uuid4())
    task = handlers.add_task(commands.AddTask(project_id=setup["project"], name="Build"), uow).id
    log(uow, setup, task_id=task)


def test_approved_entries_are_immutable_and_rejected_ones_are_drafts_again_on_amend(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    approved = log(uow, setup, hours=100)
    handlers.approve_time_entry(commands.ApproveTimeEntry(entry_id=approved), uow)
    with pytest.raises(errors.EntryLocked):
        handlers.amend_time_entry(
            commands.AmendTimeEntry(entry_id=approved, changes={"notes": "x"}), uow
        )
    with pytest.raises(errors.EntryLocked):
        handlers.delete_time_entry(commands.DeleteTimeEntry(entry_id=approved), uow)
    with pytest.raises(errors.InvalidTransition):
        handlers.reject_time_entry(commands.RejectTimeEntry(entry_id=approved, reason="no"), uow)

    rejected = log(uow, setup, hours=100)
    handlers.reject_time_entry(commands.RejectTimeEntry(entry_id=rejected, reason="typo"), uow)
    assert last_event(uow).after["status"] == "rejected"  # type: ignore[attr-defined]
    with pytest.raises(errors.InvalidTransition):
        handlers.approve_time_entry(commands.ApproveTimeEntry(entry_id=rejected), uow)
    handlers.amend_time_entry(
        commands.AmendTimeEntry(entry_id=rejected, changes={"hours_hundredths": 200}), uow
    )
    event = last_event(uow)
    assert event.before["status"] == "rejected"  # type: ignore[attr-defined]
    assert event.after["status"] == "draft"  # type: ignore[attr-defined]
    handlers.reject_time_entry(commands.RejectTimeEntry(entry_id=rejected, reason="again"), uow)
    handlers.delete_time_entry(commands.DeleteTimeEntry(entry_id=rejected), uow)
    assert rejected not in uow.time_entries.items


def test_time_events_carry_before_and_after(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    entry_id = log(uow, setup, hours=750)
    logged = last_event(uow)
    assert logged.before is None  # type: ignore[attr-defined]
    assert logged.after["amount_cents"] == 67500  # type: ignore[attr-defined]
    assert logged.client_id == setup["client"]  # type: ignore[attr-defined]
    handlers.delete_time_entry(commands.DeleteTimeEntry(entry_id=entry_id), uow)
    deleted = last_event(uow)
    assert deleted.after is None  # type: ignore[attr-defined]
    assert deleted.before["hours_hundredths"] == 750  # type: ignore[attr-defined]


def test_the_manager_must_have_the_manager_or_admin_role(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    with pytest.raises(errors.ValidationFailed):
        handlers.update_project(
            commands.UpdateProject(
                project_id=setup["project"], changes={"manager_id": setup["worker"]}
            ),
            uow,
        )


def test_membership_is_added_updated_and_removed(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    again = handlers.add_member(
        commands.AddMember(project_id=setup["project"], person_id=setup["worker"], role="Lead"), uow
    )
    assert not again.created
    assert uow.log[-1][0] == "MemberUpdated"
    handlers.remove_member(
        commands.RemoveMember(project_id=setup["project"], person_id=setup["worker"]), uow
    )
    with pytest.raises(errors.NotFound):
        handlers.remove_member(
            commands.RemoveMember(project_id=setup["project"], person_id=setup["worker"]), uow
        )


def test_an_entry_lies_within_the_project_dates_and_not_after_the_allowed_future(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    uow.policy = Policy(max_future_days=2, today=lambda: DAY)
    handlers.update_project(
        commands.UpdateProject(
            project_id=setup["project"], changes={"end_date": dt.date(2026, 11, 24)}
        ),
        uow,
    )
    refused = {
        dt.date(2025, 12, 31): "before the project's start date 2026-01-01",
        dt.date(2026, 11, 25): "after the project's end date 2026-11-24",
    }
    for date, reason in refused.items():
        with pytest.raises(errors.ValidationFailed, match=reason) as caught:
            log(uow, setup, date=date)
        assert caught.value.field == "date"
    for date in (dt.date(2026, 1, 1), dt.date(2026, 11, 24)):
        log(uow, setup, hours=100, date=date)

    handlers.update_project(
        commands.UpdateProject(project_id=setup["project"], changes={"end_date": None}), uow
    )
    log(uow, setup, hours=100, date=DAY + dt.timedelta(days=2))
    with pytest.raises(errors.ValidationFailed, match="up to 2026-11-25"):
        log(uow, setup, hours=100, date=DAY + dt.timedelta(days=3))


def test_by_default_no_time_is_logged_for_tomorrow(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    uow.policy = Policy(today=lambda: DAY)
    entry = log(uow, setup, date=DAY)
    with pytest.raises(errors.ValidationFailed, match="up to 2026-11-23"):
        log(uow, setup, date=DAY + dt.timedelta(days=1))
    with pytest.raises(errors.ValidationFailed, match="up to 2026-11-23"):
        handlers.amend_time_entry(
            commands.AmendTimeEntry(entry_id=entry, changes={"date": DAY + dt.timedelta(days=1)}),
            uow,
        )


def test_closing_a_project_keeps_its_entries(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    entry = log(uow, setup)
    handlers.close_project(commands.CloseProject(project_id=setup["project"]), uow)
    assert uow.time_entries.items[entry].hours_hundredths == 750


def test_nobody_but_an_admin_reviews_their_own_time(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    manager = setup["manager"]
    own = log(uow, setup, person_id=manager)
    for review in (
        commands.ApproveTimeEntry(entry_id=own, actor_id=manager),
        commands.RejectTimeEntry(entry_id=own, reason="no", actor_id=manager),
    ):
        with pytest.raises(errors.OwnTimeReview):
            handlers.handle(review, uow)
    assert uow.time_entries.items[own].status == "draft"

    worker = log(uow, setup, hours=100)
    handlers.approve_time_entry(commands.ApproveTimeEntry(entry_id=worker, actor_id=manager), uow)
    reviewed = last_event(uow)
    assert (reviewed.actor_id, reviewed.overrides) == (manager, ())  # type: ignore[attr-defined]

    admin = person(uow, "admin")
    handlers.add_member(
        commands.AddMember(project_id=setup["project"], person_id=admin, role="Lead"), uow
    )
    admins_own = log(uow, setup, hours=100, person_id=admin)
    handlers.approve_time_entry(commands.ApproveTimeEntry(entry_id=admins_own, actor_id=admin), uow)
    recorded = last_event(uow)
    assert recorded.actor_id == admin  # type: ignore[attr-defined]
    assert recorded.overrides == ("own_time",)  # type: ignore[attr-defined]
    assert recorded.payload()["overrides"] == ["own_time"]  # type: ignore[attr-defined]


def test_a_firm_may_allow_managers_to_review_their_own_time(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    uow.policy = Policy(max_future_days=3650, allow_self_approval=True)
    own = log(uow, setup, person_id=setup["manager"])
    handlers.reject_time_entry(
        commands.RejectTimeEntry(entry_id=own, reason="typo", actor_id=setup["manager"]), uow
    )
    assert last_event(uow).overrides == ("own_time",)  # type: ignore[attr-defined]
    assert uow.time_entries.items[own].status == "rejected"


def test_a_lock_date_stops_everyone_but_an_admin_and_records_the_admin(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    worker, manager = setup["worker"], setup["manager"]
    locked = log(uow, setup, hours=100, date=DAY - dt.timedelta(days=1))
    open_entry = log(uow, setup, hours=100, date=DAY + dt.timedelta(days=1))
    admin = person(uow, "admin")
    handlers.set_lock_date(commands.SetLockDate(lock_date=DAY, actor_id=admin), uow)
    assert uow.firm.lock_date() == DAY
    refused: list[commands.Command] = [
        commands.LogTime(
            project_id=setup["project"],
            person_id=worker,
            date=DAY,
            hours_hundredths=100,
            billable=True,
            actor_id=worker,
        ),
        commands.AmendTimeEntry(entry_id=locked, changes={"notes": "x"}, actor_id=worker),
        commands.AmendTimeEntry(entry_id=open_entry, changes={"date": DAY}, actor_id=worker),
        commands.DeleteTimeEntry(entry_id=locked, actor_id=worker),
        commands.RejectTimeEntry(entry_id=locked, reason="no", actor_id=manager),
        commands.DeleteTimeEntry(entry_id=locked),  # the system is no admin
    ]
    for cmd in refused:
        with pytest.raises(errors.PeriodLocked, match="on or before the lock date 2026-11-23"):
            handlers.handle(cmd, uow)
    handlers.amend_time_entry(
        commands.AmendTimeEntry(entry_id=open_entry, changes={"notes": "x"}, actor_id=worker), uow
    )
    assert last_event(uow).overrides == ()  # type: ignore[attr-defined]
    handlers.approve_time_entry(commands.ApproveTimeEntry(entry_id=locked, actor_id=manager), uow)

    handlers.reject_time_entry(
        commands.RejectTimeEntry(entry_id=open_entry, reason="no", actor_id=manager), uow
    )
    handlers.amend_time_entry(
        commands.AmendTimeEntry(entry_id=open_entry, changes={"date": DAY}, actor_id=admin), uow
    )
    by_admin = last_event(uow)
    assert by_admin.actor_id == admin  # type: ignore[attr-defined]
    assert by_admin.overrides == ("lock_date",)  # type: ignore[attr-defined]

    handlers.set_lock_date(commands.SetLockDate(lock_date=None, actor_id=admin), uow)
    handlers.delete_time_entry(commands.DeleteTimeEntry(entry_id=open_entry, actor_id=worker), uow)
    assert [event.lock_date for name, event in uow.log if name == "LockDateSet"] == [DAY, None]  # type: ignore[attr-defined]


def test_the_cost_rate_is_captured_when_logged_and_kept_on_amendment(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    handlers.update_person(
        commands.UpdatePerson(person_id=setup["worker"], changes={"cost_rate_cents": 4550}), uow
    )
    entry_id = log(uow, setup, hours=333)
    entry = uow.time_entries.items[entry_id]
    assert (entry.cost_rate_cents, entry.cost_cents) == (4550, 15152)  # 3.33 x 45.50 = 151.515
    handlers.update_person(
        commands.UpdatePerson(person_id=setup["worker"], changes={"cost_rate_cents": 9999}), uow
    )
    handlers.amend_time_entry(
        commands.AmendTimeEntry(entry_id=entry_id, changes={"hours_hundredths": 200}), uow
    )
    assert (entry.cost_rate_cents, entry.cost_cents) == (4550, 9100)
    assert last_event(uow).after["cost_cents"] == 9100  # type: ignore[attr-defined]
    nobody_costed = log(uow, setup, hours=100, person_id=setup["manager"])
    assert uow.time_entries.items[nobody_costed].cost_cents == 0


def week_entries(uow: FakeUnitOfWork, person_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {
        entry.id: entry.status
        for entry in uow.time_entries.items.values()
        if entry.person_id == person_id
    }


def test_a_week_is_submitted_then_reviewed_per_manager(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    worker, manager = setup["worker"], setup["manager"]
    other_manager = person(uow, "manager")
    other = handlers.create_project(
        commands.CreateProject(
            name="Other",
            client_id=setup["client"],
            manager_id=other_manager,
            start_date=dt.date(2026, 1, 1),
            budget_cents=0,
        ),
        uow,
    ).id
    handlers.add_member(commands.AddMember(project_id=other, person_id=worker, role="Dev"), uow)
    ours = log(uow, setup, hours=100)  # Monday of 2026-W48
    theirs = log(uow, setup, hours=200, project_id=other, date=DAY + dt.timedelta(days=6))
    next_week = log(uow, setup, hours=300, date=DAY + dt.timedelta(days=7))
    assert set(week_entries(uow, worker).values()) == {"draft"}

    with pytest.raises(errors.InvalidTransition, match="no submitted entries"):
        handlers.handle(commands.ApproveTimesheet(worker, "2026-W48", actor_id=manager), uow)
    handlers.handle(commands.SubmitTimesheet(worker, "2026-W48", actor_id=worker), uow)
    assert week_entries(uow, worker) == {ours: "submitted", theirs: "submitted", next_week: "draft"}
    with pytest.raises(errors.InvalidTransition, match="no draft entries"):
        handlers.handle(commands.SubmitTimesheet(worker, "2026-W48", actor_id=worker), uow)

    handlers.handle(commands.ApproveTimesheet(worker, "2026-W48", actor_id=manager), uow)
    assert week_entries(uow, worker)[ours] == "approved"
    assert week_entries(uow, worker)[theirs] == "submitted"
    handlers.handle(
        commands.RejectTimesheet(worker, "2026-W48", reason="no", actor_id=other_manager), uow
    )
    assert week_entries(uow, worker)[theirs] == "rejected"
    sheet = uow.timesheets.items[model.timesheet_id(worker, "2026-W48")]
    assert (sheet.last_action, sheet.acted_by, sheet.reason) == ("rejected", other_manager, "no")
    acted = last_event(uow)
    assert acted.entry_ids == (theirs,)  # type: ignore[attr-defined]

    with pytest.raises(errors.ValidationFailed, match="ISO week"):
        handlers.handle(commands.SubmitTimesheet(worker, "2026-48", actor_id=worker), uow)
    with pytest.raises(errors.NotFound):
        handlers.handle(commands.SubmitTimesheet(uuid.uuid4(), "2026-W48"), uow)


def test_a_locked_week_is_neither_submitted_nor_rejected_but_by_an_admin(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    worker, manager = setup["worker"], setup["manager"]
    admin = person(uow, "admin")
    log(uow, setup, hours=100)
    handlers.handle(commands.SubmitTimesheet(worker, "2026-W48", actor_id=worker), uow)
    log(uow, setup, hours=100, date=DAY + dt.timedelta(days=7))
    handlers.handle(commands.SetLockDate(lock_date=DAY + dt.timedelta(days=7)), uow)
    with pytest.raises(errors.PeriodLocked):
        handlers.handle(commands.SubmitTimesheet(worker, "2026-W49", actor_id=worker), uow)
    with pytest.raises(errors.PeriodLocked):
        handlers.handle(
            commands.RejectTimesheet(worker, "2026-W48", reason="x", actor_id=manager), uow
        )
    handlers.handle(commands.SubmitTimesheet(worker, "2026-W49", actor_id=admin), uow)
    assert last_event(uow).actor_id == admin  # type: ignore[attr-defined]
    submitted = [event for name, event in uow.log if name == "TimeEntrySubmitted"][-1]
    assert submitted.overrides == ("lock_date",)  # type: ignore[attr-defined]


def test_archived_people_clients_and_projects_take_nothing_new_until_restored(
    uow: FakeUnitOfWork, setup: dict[str, uuid.UUID]
) -> None:
    admin = person(uow, "admin")
    worker, client = setup["worker"], setup["client"]
    entry = log(uow, setup, hours=100)
    handlers.handle(commands.ArchivePerson(worker, actor_id=admin), uow)
    assert last_event(uow).actor_id == admin  # type: ignore[attr-defined]
    with pytest.raises(errors.Archived):
        log(uow, setup, hours=100)
    assert uow.time_entries.items[entry].hours_hundredths == 100  # their time stays
    with pytest.raises(errors.Archived):
        handlers.add_member(
            commands.AddMember(project_id=setup["project"], person_id=worker, role="Dev"), uow
        )
    handlers.handle(commands.ArchivePerson(worker, archived=False, actor_id=admin), uow)
    log(uow, setup, hours=100)
    with pytest.raises(errors.Conflict, match="archives themselves"):
        handlers.handle(commands.ArchivePerson(admin, actor_id=admin), uow)

    handlers.handle(commands.ArchiveClient(client), uow)
    handlers.handle(commands.ArchiveClient(client), uow)  # already: nothing recorded
    assert [name for name, _ in uow.log].count("ClientArchived") == 1
    with pytest.raises(errors.Archived):
        handlers.create_project(
            commands.CreateProject(
                name="New",
                client_id=client,
                manager_id=setup["manager"],
                start_date=dt.date(2026, 1, 1),
                budget_cents=0,
            ),
            uow,
        )
    log(uow, setup, hours=100)  # the client's existing project goes on

    handlers.handle(commands.ArchiveProject(setup["project"]), uow)
    with pytest.raises(errors.Archived):
        log(uow, setup, hours=100)
    handlers.handle(commands.ArchiveProject(setup["project"], archived=False), uow)
    log(uow, setup, hours=100)

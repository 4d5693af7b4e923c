"""Command handlers: short functions that load aggregates, call them, and commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain import access, commands, errors, model
from domain.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Outcome:
    """What a command did: the aggregate, its new version, and its last event's position.
    A task command's id is the task's, its version and `project_id` its project's."""

    id: uuid.UUID
    version: int
    position: int | None
    event_types: frozenset[str]
    created: bool = False
    project_id: uuid.UUID | None = None


def _outcome(uow: UnitOfWork, aggregate: model.Aggregate, *, created: bool = False) -> Outcome:
    return Outcome(
        id=aggregate.id,
        version=aggregate.version,
        position=uow.last_position,
        event_types=frozenset(uow.event_types),
        created=created,
    )


def register_client(cmd: commands.RegisterClient, uow: UnitOfWork) -> Outcome:
    with uow:
        client = model.Client.register(cmd.name)
        uow.clients.add(client)
        uow.commit()
        return _outcome(uow, client, created=True)


def rename_client(cmd: commands.RenameClient, uow: UnitOfWork) -> Outcome:
    with uow:
        client = uow.clients.get(cmd.client_id)
        if client is None:
            raise errors.NotFound(f"no client {cmd.client_id}")
        client.check_version(cmd.expected_version)
        client.rename(cmd.name)
        uow.commit()
        return _outcome(uow, client)


def register_person(cmd: commands.RegisterPerson, uow: UnitOfWork) -> Outcome:
    with uow:
        if uow.people.email_taken(cmd.email):
            raise errors.DuplicateEmail(f"a person with email {cmd.email} exists already")
        person = model.Person.register(
            first_name=cmd.first_name,
            last_name=cmd.last_name,
            email=cmd.email,
            role=cmd.role,
            weekly_capacity_hundredths=cmd.weekly_capacity_hundredths,
            default_bill_rate_cents=cmd.default_bill_rate_cents,
            cost_rate_cents=cmd.cost_rate_cents,
        )
        uow.people.add(person)
        if cmd.token_hash is not None:
            uow.people.add_token(person.id, cmd.token_hash)
        uow.commit()
        return _outcome(uow, person, created=True)


def create_project(cmd: commands.CreateProject, uow: UnitOfWork) -> Outcome:
    with uow:
        client = uow.clients.get(cmd.client_id)
        if client is None:
            raise errors.InvalidReference("client_id", f"no client {cmd.client_id}")
        client.check_active(f"client {client.name!r}")
        _check_manager(uow, cmd.manager_id)
        project = model.Project.create(
            name=cmd.name,
            client_id=cmd.client_id,
            manager_id=cmd.manager_id,
            start_date=cmd.start_date,
            end_date=cmd.end_date,
            budget_cents=cmd.budget_cents,
            default_bill_rate_cents=cmd.default_bill_rate_cents,
        )
        uow.projects.add(project)
        uow.commit()
        return _outcome(uow, project, created=True)


def _project(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    caller: access.Caller | None,
    expected: int | None = None,
) -> model.Project:
    """The project, locked, for a caller who manages it, at the expected version."""
    project = access.managed_project(uow, caller, project_id, for_update=True)
    project.check_version(expected)
    return project


def _owned_entry(
    uow: UnitOfWork, entry_id: uuid.UUID, caller: access.Caller | None, expected: int | None
) -> model.TimeEntry:
    """The entry, locked, for its person or an admin, at the expected version."""
    entry = access.owned_entry(uow, caller, entry_id, for_update=True)
    entry.check_version(expected)
    return entry


def _reviewed_entry(
    uow: UnitOfWork, entry_id: uuid.UUID, caller: access.Caller | None, expected: int | None
) -> model.TimeEntry:
    """The entry, locked, for its project's manager or an admin, at the expected version."""
    entry = access.reviewed_entry(uow, caller, entry_id, for_update=True)
    entry.check_version(expected)
    return entry


def _check_daily_limit(
    uow: UnitOfWork, person_id: uuid.UUID, entry: model.TimeEntry, excluding: uuid.UUID | None
) -> None:
    total = uow.time_entries.hours_on(person_id, entry.date, excluding) + entry.hours_hundredths
    _check_day_total(total, entry.date)


def _check_day_total(total: int, date: dt.date) -> None:
    if total > model.DAY_LIMIT_HUNDREDTHS:
        raise errors.DailyLimitExceeded(
            f"{total / 100:g} hours on {date.isoformat()} would exceed "
            f"{model.DAY_LIMIT_HUNDREDTHS / 100:g}"
        )


def update_person(cmd: commands.UpdatePerson, uow: UnitOfWork) -> Outcome:
    with uow:
        person = uow.people.get(cmd.person_id)
        if person is None:
            raise errors.NotFound(f"no person {cmd.person_id}")
        person.check_version(cmd.expected_version)
        person.update(cmd.changes)
        uow.commit()
        return _outcome(uow, person)


def update_project(cmd: commands.UpdateProject, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _project(uow, cmd.project_id, cmd.caller, cmd.expected_version)
        manager_id = cmd.changes.get("manager_id")
        if isinstance(manager_id, uuid.UUID) and manager_id != project.manager_id:
            _check_manager(uow, manager_id)
        project.update(cmd.changes)
        uow.commit()
        return _outcome(uow, project)


def _check_manager(uow: UnitOfWork, manager_id: uuid.UUID) -> None:
    manager = uow.people.get(manager_id)
    if manager is None:
        raise errors.InvalidReference("manager_id", f"no person {manager_id}")
    if manager.role not in (model.Role.MANAGER, model.Role.ADMIN):
        raise errors.ValidationFailed("manager_id", f"{manager.name} is not a manager")


def close_project(cmd: commands.CloseProject, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _project(uow, cmd.project_id, cmd.caller, cmd.expected_version)
        project.close()
        uow.commit()
        return _outcome(uow, project)


def reopen_project(cmd: commands.ReopenProject, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _project(uow, cmd.project_id, cmd.caller, cmd.expected_version)
        project.reopen()
        uow.commit()
        return _outcome(uow, project)


def add_member(cmd: commands.AddMember, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _project(uow, cmd.project_id, cmd.caller, cmd.expected_version)
        person = uow.people.get(cmd.person_id)
        if person is None:
            raise errors.InvalidReference("person_id", f"no person {cmd.person_id}")
        person.check_active(person.name)
        created = project.add_member(cmd.person_id, cmd.role, cmd.bill_rate_cents)
        uow.commit()
        return _outcome(uow, project, created=created)


def remove_member(cmd: commands.RemoveMember, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _project(uow, cmd.project_id, cmd.caller, cmd.expected_version)
        project.remove_member(cmd.person_id)
        uow.commit()
        return _outcome(uow, project)


def add_task(cmd: commands.AddTask, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _project(uow, cmd.project_id, cmd.caller, cmd.expected_version)
        task_id = project.add_task(cmd.name, cmd.estimate_hundredths)
        uow.commit()
        created = _outcome(uow, project, created=True)
        return dataclasses.replace(created, id=task_id, project_id=project.id)


def _task_project(
    uow: UnitOfWork, task_id: uuid.UUID, caller: access.Caller | None, expected: int | None
) -> model.Project:
    project = access.managed_task_project(uow, caller, task_id, for_update=True)
    project.check_version(expected)
    return project


def complete_task(cmd: commands.CompleteTask, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _task_project(uow, cmd.task_id, cmd.caller, cmd.expected_version)
        project.complete_task(cmd.task_id)
        uow.commit()
        return dataclasses.replace(_outcome(uow, project), id=cmd.task_id, project_id=project.id)


def reopen_task(cmd: commands.ReopenTask, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _task_project(uow, cmd.task_id, cmd.caller, cmd.expected_version)
        project.reopen_task(cmd.task_id)
        uow.commit()
        return dataclasses.replace(_outcome(uow, project), id=cmd.task_id, project_id=project.id)


def set_lock_date(cmd: commands.SetLockDate, uow: UnitOfWork) -> Outcome:
    with uow:
        firm = uow.firm.current(for_update=True)
        firm.check_version(cmd.expected_version)
        firm.set_lock_date(cmd.lock_date, cmd.actor_id)
        uow.commit()
        return _outcome(uow, firm)


def _past_lock(
    uow: UnitOfWork,
    dates: list[dt.date],
    actor_id: uuid.UUID | None,
    known: model.Person | None = None,
) -> tuple[str, ...]:
    """No rule overridden when every date is after the firm's lock date; ("lock_date",) when
    one is not and an admin acts (`known` spares loading the actor again); else refused."""
    return _overrides(uow, uow.firm.lock_date(), dates, actor_id, known)


def _overrides(
    uow: UnitOfWork,
    lock_date: dt.date | None,
    dates: list[dt.date],
    actor_id: uuid.UUID | None,
    known: model.Person | None = None,
) -> tuple[str, ...]:
    """_past_lock, given the lock date."""
    if lock_date is None or min(dates) > lock_date:
        return ()
    actor = known if known is not None and known.id == actor_id else None
    if actor is None and actor_id is not None:
        actor = uow.people.get(actor_id)
    if actor is None or actor.role != model.Role.ADMIN:
        raise errors.PeriodLocked(
            f"{min(dates)} is on or before the lock date {lock_date}: "
            "only an admin changes time there"
        )
    return ("lock_date",)


def log_time(cmd: commands.LogTime, uow: UnitOfWork) -> Outcome:
    with uow:
        person = uow.people.lock(cmd.person_id)
        if person is None:
            raise errors.InvalidReference("person_id", f"no person {cmd.person_id}")
        day = uow.projects.get_with_day(cmd.project_id, person.id, cmd.date)
        access.check_may_log_on(cmd.caller, cmd.project_id, None if day is None else day.project)
        if day is None:
            raise errors.InvalidReference("project_id", f"no project {cmd.project_id}")
        overrides = _overrides(uow, day.lock_date, [cmd.date], cmd.actor_id, person)
        entry = model.TimeEntry.log(
            project=day.project,
            person=person,
            date=cmd.date,
            hours_hundredths=cmd.hours_hundredths,
            billable=cmd.billable,
            task_id=cmd.task_id,
            notes=cmd.notes,
            latest_date=uow.policy.latest_entry_date(),
            act=model.Act(cmd.actor_id, overrides),
        )
        _check_day_total(day.hours_logged + entry.hours_hundredths, entry.date)
        uow.time_entries.add(entry)
        uow.commit()
        return _outcome(uow, entry, created=True)


def amend_time_entry(cmd: commands.AmendTimeEntry, uow: UnitOfWork) -> Outcome:
    with uow:
        entry = _owned_entry(uow, cmd.entry_id, cmd.caller, cmd.expected_version)
        person = uow.people.lock(entry.person_id)
        project = uow.projects.get(entry.project_id)
        assert project is not None
        new_date = cmd.changes.get("date", entry.date)
        assert isinstance(new_date, dt.date), "the schema gives a date"
        overrides = _past_lock(uow, [entry.date, new_date], cmd.actor_id, person)
        entry.amend(
            project,
            cmd.changes,
            uow.policy.latest_entry_date(),
            model.Act(cmd.actor_id, overrides),
        )
        _check_daily_limit(uow, entry.person_id, entry, excluding=entry.id)
        uow.commit()
        return _outcome(uow, entry)


def delete_time_entry(cmd: commands.DeleteTimeEntry, uow: UnitOfWork) -> Outcome:
    with uow:
        entry = _owned_entry(uow, cmd.entry_id, cmd.caller, cmd.expected_version)
        project = uow.projects.get(entry.project_id)
        assert project is not None
        overrides = _past_lock(uow, [entry.date], cmd.actor_id)
        entry.delete(project, model.Act(cmd.actor_id, overrides))
        uow.commit()
        return _outcome(uow, entry)


def _own_time(uow: UnitOfWork, person_id: uuid.UUID, actor_id: uuid.UUID | None) -> tuple[str, ...]:
    """Nobody reviews (approves or rejects) their own time, except an admin or when the firm's
    policy allows it, and then the event records the exception."""
    if actor_id is None or actor_id != person_id:
        return ()
    actor = uow.people.get(actor_id)
    if not uow.policy.allow_self_approval and (actor is None or actor.role != model.Role.ADMIN):
        raise errors.OwnTimeReview("Nobody but an admin approves or rejects their own time.")
    return ("own_time",)


def approve_time_entry(cmd: commands.ApproveTimeEntry, uow: UnitOfWork) -> Outcome:
    with uow:
        entry = _reviewed_entry(uow, cmd.entry_id, cmd.caller, cmd.expected_version)
        entry.approve(model.Act(cmd.actor_id, _own_time(uow, entry.person_id, cmd.actor_id)))
        uow.commit()
        return _outcome(uow, entry)


def reject_time_entry(cmd: commands.RejectTimeEntry, uow: UnitOfWork) -> Outcome:
    with uow:
        entry = _reviewed_entry(uow, cmd.entry_id, cmd.caller, cmd.expected_version)
        overrides = _own_time(uow, entry.person_id, cmd.actor_id)
        overrides += _past_lock(uow, [entry.date], cmd.actor_id)
        entry.reject(cmd.reason, model.Act(cmd.actor_id, overrides))
        uow.commit()
        return _outcome(uow, entry)


def _week(uow: UnitOfWork, person_id: uuid.UUID, week: str) -> tuple[str, list[model.TimeEntry]]:
    """The week's canonical label and the person's entries in it, each row locked: two
    commands on one week queue on its first entry. Entries are locked before anything else,
    as amending locks its entry before the person: the same order, so no deadlock."""
    monday = model.week_start(week)
    entries = uow.time_entries.of_week(person_id, monday)
    if not entries and uow.people.get(person_id) is None:
        raise errors.NotFound(f"no person {person_id}")
    return model.week_of(monday), entries


def _record_on_timesheet(
    uow: UnitOfWork,
    person_id: uuid.UUID,
    week: str,
    action: str,
    act: model.Act,
    entries: list[model.TimeEntry],
    reason: str | None = None,
) -> model.Timesheet:
    sheet = uow.timesheets.for_week(person_id, week)
    sheet.act(action, act.actor_id, [entry.id for entry in entries], reason)
    return sheet


def submit_timesheet(cmd: commands.SubmitTimesheet, uow: UnitOfWork) -> Outcome:
    with uow:
        week, entries = _week(uow, cmd.person_id, cmd.week)
        drafts = [entry for entry in entries if entry.status == "draft"]
        if not drafts:
            raise errors.InvalidTransition(f"{week} has no draft entries to submit")
        act = model.Act(cmd.actor_id, _past_lock(uow, [e.date for e in drafts], cmd.actor_id))
        for entry in drafts:
            entry.submit(act)
        sheet = _record_on_timesheet(uow, cmd.person_id, week, "submitted", act, drafts)
        uow.commit()
        return _outcome(uow, sheet)


def _reviewable(
    uow: UnitOfWork, entries: list[model.TimeEntry], actor_id: uuid.UUID | None, week: str
) -> list[model.TimeEntry]:
    """The week's submitted entries the actor reviews: a manager those on their projects."""
    submitted = [entry for entry in entries if entry.status == "submitted"]
    actor = uow.people.get(actor_id) if actor_id is not None else None
    if actor is not None and actor.role != model.Role.ADMIN:
        managed = {
            project_id
            for project_id in {entry.project_id for entry in submitted}
            if (project := uow.projects.get(project_id)) is not None
            and project.manager_id == actor.id
        }
        submitted = [entry for entry in submitted if entry.project_id in managed]
    if not submitted:
        raise errors.InvalidTransition(f"{week} has no submitted entries for you to review")
    return submitted


def approve_timesheet(cmd: commands.ApproveTimesheet, uow: UnitOfWork) -> Outcome:
    with uow:
        own_time = _own_time(uow, cmd.person_id, cmd.actor_id)
        week, entries = _week(uow, cmd.person_id, cmd.week)
        reviewed = _reviewable(uow, entries, cmd.actor_id, week)
        act = model.Act(cmd.actor_id, own_time)
        for entry in reviewed:
            entry.approve(act)
        sheet = _record_on_timesheet(uow, cmd.person_id, week, "approved", act, reviewed)
        uow.commit()
        return _outcome(uow, sheet)


def reject_timesheet(cmd: commands.RejectTimesheet, uow: UnitOfWork) -> Outcome:
    with uow:
        overrides = _own_time(uow, cmd.person_id, cmd.actor_id)
        week, entries = _week(uow, cmd.person_id, cmd.week)
        reviewed = _reviewable(uow, entries, cmd.actor_id, week)
        overrides += _past_lock(uow, [entry.date for entry in reviewed], cmd.actor_id)
        act = model.Act(cmd.actor_id, overrides)
        for entry in reviewed:
            entry.reject(cmd.reason, act)
        sheet = _record_on_timesheet(
            uow, cmd.person_id, week, "rejected", act, reviewed, cmd.reason
        )
        uow.commit()
        return _outcome(uow, sheet)


def archive_client(cmd: commands.ArchiveClient, uow: UnitOfWork) -> Outcome:
    with uow:
        client = uow.clients.get(cmd.client_id, for_update=True)
        if client is None:
            raise errors.NotFound(f"no client {cmd.client_id}")
        client.set_archived(cmd.archived, cmd.actor_id)
        uow.commit()
        return _outcome(uow, client)


def archive_person(cmd: commands.ArchivePerson, uow: UnitOfWork) -> Outcome:
    with uow:
        person = uow.people.lock(cmd.person_id)
        if person is None:
            raise errors.NotFound(f"no person {cmd.person_id}")
        if cmd.archived and cmd.person_id == cmd.actor_id:
            raise errors.Conflict("Nobody archives themselves (they would lose every token).")
        person.set_archived(cmd.archived, cmd.actor_id)
        uow.commit()
        return _outcome(uow, person)


def archive_project(cmd: commands.ArchiveProject, uow: UnitOfWork) -> Outcome:
    with uow:
        project = _project(uow, cmd.project_id, cmd.caller)
        project.set_archived(cmd.archived, cmd.actor_id)
        uow.commit()
        return _outcome(uow, project)


COMMAND_HANDLERS: dict[type[commands.Command], Callable[[Any, UnitOfWork], Outcome]] = {
    commands.RegisterClient: register_client,
    commands.RenameClient: rename_client,
    commands.RegisterPerson: register_person,
    commands.UpdatePerson: update_person,
    commands.CreateProject: create_project,
    commands.UpdateProject: update_project,
    commands.CloseProject: close_project,
    commands.ReopenProject: reopen_project,
    commands.AddMember: add_member,
    commands.RemoveMember: remove_member,
    commands.AddTask: add_task,
    commands.CompleteTask: complete_task,
    commands.ReopenTask: reopen_task,
    commands.SetLockDate: set_lock_date,
    commands.LogTime: log_time,
    commands.AmendTimeEntry: amend_time_entry,
    commands.DeleteTimeEntry: delete_time_entry,
    commands.ApproveTimeEntry: approve_time_entry,
    commands.RejectTimeEntry: reject_time_entry,
    commands.ArchiveClient: archive_client,
    commands.ArchivePerson: archive_person,
    commands.ArchiveProject: archive_project,
    commands.SubmitTimesheet: submit_timesheet,
    commands.ApproveTimesheet: approve_timesheet,
    commands.RejectTimesheet: reject_timesheet,
}


def handle(cmd: commands.Command, uow: UnitOfWork) -> Outcome:
    return COMMAND_HANDLERS[type(cmd)](cmd, uow)

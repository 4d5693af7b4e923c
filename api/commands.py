"""The command side of the HTTP API: validate, run a handler, answer with the position."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from api.auth import current_caller, require_role
from api.errors import Problem
from api.openapi import IF_MATCH_PATTERN, checked_first, problems, roles
from api.parsing import Blueprint
from api.runtime import runtime
from api.schemas import (
    AddMemberSchema,
    AddTaskSchema,
    AmendTimeEntrySchema,
    CommandResultSchema,
    CreateProjectSchema,
    LockDateSchema,
    LogTimeSchema,
    PersonCreatedSchema,
    RegisterClientSchema,
    RegisterPersonSchema,
    RejectTimeEntrySchema,
    RejectTimesheetSchema,
    RenameClientSchema,
    TaskResultSchema,
    UpdatePersonSchema,
    UpdateProjectSchema,
)
from domain import access, commands
from domain.handlers import Outcome
from domain.model import Role
from domain.store.tokens import hash_token, new_token
from domain.unit_of_work import UnitOfWork

blp = Blueprint("commands", __name__, description="Commands: every change goes through here.")


def expected_version() -> int | None:
    """The version named by If-Match ("<version>"), if any."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = re.fullmatch(IF_MATCH_PATTERN, header.strip(), re.ASCII)
    if match is None:
        raise Problem(
            422, 'If-Match takes an ETag: "<version>".', errors={"If-Match": ["Not an ETag."]}
        )
    version = match.group(3)  # None for "*"
    return None if version is None else int(version.strip('"'))


def command_response(
    outcome: Outcome,
    status: int,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"id": str(outcome.id), "version": outcome.version, "position": outcome.position}
    response = jsonify(body | (extra or {}))
    response.status_code = status
    response.headers["ETag"] = f'"{outcome.version}"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# A command checks its caller against what it loads (domain/access.py). These run the same
# checks alone, for a request refused before its command could run (`checked_first`).


def project_manager(project_id: uuid.UUID, **_: Any) -> None:
    caller = current_caller()
    authorize(lambda uow: access.managed_project(uow, caller, project_id))


def task_manager(task_id: uuid.UUID, **_: Any) -> None:
    caller = current_caller()
    authorize(lambda uow: access.managed_task_project(uow, caller, task_id))


def entry_owner(entry_id: uuid.UUID, **_: Any) -> None:
    caller = current_caller()
    authorize(lambda uow: access.owned_entry(uow, caller, entry_id))


def entry_approver(entry_id: uuid.UUID, **_: Any) -> None:
    caller = current_caller()
    authorize(lambda uow: access.reviewed_entry(uow, caller, entry_id))


def authorize(check: Callable[[UnitOfWork], object]) -> None:
    runtime().service.authorize(check)


@blp.route("/clients", methods=["POST"])
@roles(Role.ADMIN, Role.MANAGER)
@blp.arguments(RegisterClientSchema)
@blp.response(201, CommandResultSchema)
def register_client(body: dict[str, Any]) -> Response:
    """Register a client."""
    outcome = runtime().execute(commands.RegisterClient(name=body["name"].strip())).outcome
    return command_response(outcome, 201)


@blp.route("/clients/<uuid:client_id>", methods=["PATCH"])
@roles(Role.ADMIN, Role.MANAGER)
@problems(409, 412)
@blp.arguments(RenameClientSchema)
@blp.response(200, CommandResultSchema)
def rename_client(body: dict[str, Any], client_id: uuid.UUID) -> Response:
    """Rename a client; the new name reaches every read model."""
    outcome = (
        runtime()
        .execute(
            commands.RenameClient(
                client_id=client_id, name=body["name"].strip(), expected_version=expected_version()
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/people", methods=["POST"])
@roles(Role.ADMIN)
@blp.arguments(RegisterPersonSchema)
@blp.response(201, PersonCreatedSchema)
def register_person(body: dict[str, Any]) -> Response:
    """Register a person and issue their first token (shown once)."""
    token = new_token()
    outcome = (
        runtime()
        .execute(
            commands.RegisterPerson(
                first_name=body["first_name"].strip(),
                last_name=body["last_name"].strip(),
                email=body["email"],
                role=body["role"],
                weekly_capacity_hundredths=body.get("weekly_capacity_hours", 4000),
                default_bill_rate_cents=body["default_bill_rate"],
                cost_rate_cents=body["cost_rate"],
                token_hash=hash_token(token),
            )
        )
        .outcome
    )
    return command_response(outcome, 201, {"token": token})


@blp.route("/projects", methods=["POST"])
@roles(Role.ADMIN, Role.MANAGER)
@problems(404)
@blp.arguments(CreateProjectSchema)
@blp.response(201, CommandResultSchema)
@blp.alt_response(202, schema=CommandResultSchema, description="The dashboard is not yet current.")
def create_project(body: dict[str, Any]) -> Response:
    """Create a project; its dashboard is readable at once (202 if not yet)."""
    executed = runtime().execute(
        commands.CreateProject(
            name=body["name"].strip(),
            client_id=body["client_id"],
            manager_id=body["manager_id"],
            start_date=body["start_date"],
            end_date=body["end_date"],
            budget_cents=body["budget"],
            default_bill_rate_cents=body["default_bill_rate"],
        )
    )
    return command_response(
        executed.outcome,
        201 if executed.current else 202,
        headers={"Location": f"/api/v1/projects/{executed.outcome.id}/dashboard"},
    )


DOMAIN_NAMES = {
    "weekly_capacity_hours": "weekly_capacity_hundredths",
    "default_bill_rate": "default_bill_rate_cents",
    "cost_rate": "cost_rate_cents",
    "budget": "budget_cents",
    "hours": "hours_hundredths",
}


def domain_changes(body: dict[str, Any]) -> dict[str, object]:
    """A PATCH body under the domain's names (cents, hundredths); names stripped."""
    return {
        DOMAIN_NAMES.get(name, name): value.strip() if name.endswith("name") and value else value
        for name, value in body.items()
    }


@blp.route("/people/<uuid:person_id>", methods=["PATCH"])
@roles(Role.ADMIN)
@problems(409, 412)
@blp.arguments(UpdatePersonSchema)
@blp.response(200, CommandResultSchema)
def update_person(body: dict[str, Any], person_id: uuid.UUID) -> Response:
    """Change a person's names, weekly capacity or rates."""
    outcome = (
        runtime()
        .execute(
            commands.UpdatePerson(
                person_id=person_id,
                changes=domain_changes(body),
                expected_version=expected_version(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/projects/<uuid:project_id>", methods=["PATCH"])
@checked_first(project_manager, 403)
@problems(409, 412)
@blp.arguments(UpdateProjectSchema)
@blp.response(200, CommandResultSchema)
def update_project(body: dict[str, Any], project_id: uuid.UUID) -> Response:
    """Change a project's name, budget, manager, end date or default rate."""
    outcome = (
        runtime()
        .execute(
            commands.UpdateProject(
                project_id=project_id,
                changes=domain_changes(body),
                expected_version=expected_version(),
                caller=current_caller(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/projects/<uuid:project_id>/close", methods=["POST"])
@checked_first(project_manager, 403)
@problems(412)
@blp.response(200, CommandResultSchema)
def close_project(project_id: uuid.UUID) -> Response:
    """Close a project: no more time can be logged, amended or deleted on it."""
    outcome = (
        runtime()
        .execute(
            commands.CloseProject(
                project_id=project_id, expected_version=expected_version(), caller=current_caller()
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/projects/<uuid:project_id>/reopen", methods=["POST"])
@checked_first(project_manager, 403)
@problems(412)
@blp.response(200, CommandResultSchema)
def reopen_project(project_id: uuid.UUID) -> Response:
    """Reopen a closed project."""
    outcome = (
        runtime()
        .execute(
            commands.ReopenProject(
                project_id=project_id, expected_version=expected_version(), caller=current_caller()
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/projects/<uuid:project_id>/members", methods=["POST"])
@checked_first(project_manager, 403)
@problems(412)
@blp.arguments(AddMemberSchema)
@blp.response(201, CommandResultSchema)
@blp.alt_response(200, schema=CommandResultSchema, description="Already a member: updated.")
def add_member(body: dict[str, Any], project_id: uuid.UUID) -> Response:
    """Add a person to the project's team (or update their role and rate)."""
    outcome = (
        runtime()
        .execute(
            commands.AddMember(
                project_id=project_id,
                person_id=body["person_id"],
                role=body["role"].strip(),
                bill_rate_cents=body["bill_rate"],
                expected_version=expected_version(),
                caller=current_caller(),
            )
        )
        .outcome
    )
    return command_response(outcome, 201 if outcome.created else 200)


@blp.route("/projects/<uuid:project_id>/members/<uuid:person_id>", methods=["DELETE"])
@checked_first(project_manager, 403)
@problems(409, 412)
@blp.response(200, CommandResultSchema)
def remove_member(project_id: uuid.UUID, person_id: uuid.UUID) -> Response:
    """Remove a person from the project's team."""
    outcome = (
        runtime()
        .execute(
            commands.RemoveMember(
                project_id=project_id,
                person_id=person_id,
                expected_version=expected_version(),
                caller=current_caller(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


def task_response(outcome: Outcome, status: int) -> Response:
    return command_response(outcome, status, {"project_id": str(outcome.project_id)})


@blp.route("/projects/<uuid:project_id>/tasks", methods=["POST"])
@checked_first(project_manager, 403)
@problems(412)
@blp.arguments(AddTaskSchema)
@blp.response(201, TaskResultSchema)
def add_task(body: dict[str, Any], project_id: uuid.UUID) -> Response:
    """Add a task to a project; the response's id is the task's, version the project's."""
    outcome = (
        runtime()
        .execute(
            commands.AddTask(
                project_id=project_id,
                name=body["name"].strip(),
                estimate_hundredths=body["estimate_hours"],
                expected_version=expected_version(),
                caller=current_caller(),
            )
        )
        .outcome
    )
    return task_response(outcome, 201)


@blp.route("/tasks/<uuid:task_id>/complete", methods=["POST"])
@checked_first(task_manager, 403)
@problems(412)
@blp.response(200, TaskResultSchema)
def complete_task(task_id: uuid.UUID) -> Response:
    """Mark a task completed."""
    outcome = (
        runtime()
        .execute(
            commands.CompleteTask(
                task_id=task_id, expected_version=expected_version(), caller=current_caller()
            )
        )
        .outcome
    )
    return task_response(outcome, 200)


@blp.route("/tasks/<uuid:task_id>/reopen", methods=["POST"])
@checked_first(task_manager, 403)
@problems(412)
@blp.response(200, TaskResultSchema)
def reopen_task(task_id: uuid.UUID) -> Response:
    """Reopen a completed task."""
    outcome = (
        runtime()
        .execute(
            commands.ReopenTask(
                task_id=task_id, expected_version=expected_version(), caller=current_caller()
            )
        )
        .outcome
    )
    return task_response(outcome, 200)


@blp.route("/time-entries", methods=["POST"])
@problems(403, 404)
@blp.arguments(LogTimeSchema)
@blp.response(201, CommandResultSchema)
def log_time(body: dict[str, Any]) -> Response:
    """Log hours against a project."""
    caller = current_caller()
    if not caller.is_admin and body["person_id"] != caller.person_id:
        raise Problem(403, "Log time for yourself (only an admin logs time for others).")
    outcome = (
        runtime()
        .execute(
            commands.LogTime(
                project_id=body["project_id"],
                person_id=body["person_id"],
                date=body["date"],
                hours_hundredths=body["hours"],
                billable=body["billable"],
                task_id=body["task_id"],
                notes=body["notes"],
                actor_id=caller.person_id,
                caller=caller,
            )
        )
        .outcome
    )
    return command_response(outcome, 201)


@blp.route("/time-entries/<uuid:entry_id>", methods=["PATCH"])
@checked_first(entry_owner, 403)
@problems(409, 412)
@blp.arguments(AmendTimeEntrySchema)
@blp.response(200, CommandResultSchema)
def amend_time_entry(body: dict[str, Any], entry_id: uuid.UUID) -> Response:
    """Amend an entry that is not approved; it becomes a draft again (to be resubmitted)."""
    outcome = (
        runtime()
        .execute(
            commands.AmendTimeEntry(
                entry_id=entry_id,
                changes=domain_changes(body),
                expected_version=expected_version(),
                actor_id=current_caller().person_id,
                caller=current_caller(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/time-entries/<uuid:entry_id>", methods=["DELETE"])
@checked_first(entry_owner, 403)
@problems(409, 412)
@blp.response(200, CommandResultSchema)
def delete_time_entry(entry_id: uuid.UUID) -> Response:
    """Delete an entry that is not approved."""
    outcome = (
        runtime()
        .execute(
            commands.DeleteTimeEntry(
                entry_id=entry_id,
                expected_version=expected_version(),
                actor_id=current_caller().person_id,
                caller=current_caller(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/time-entries/<uuid:entry_id>/approve", methods=["POST"])
@checked_first(entry_approver, 403)
@problems(412)
@blp.response(200, CommandResultSchema)
def approve_time_entry(entry_id: uuid.UUID) -> Response:
    """Approve a draft or submitted entry; it becomes immutable. Nobody but an admin approves
    their own time (403 own-time-review) unless TALLY_ALLOW_SELF_APPROVAL is set."""
    outcome = (
        runtime()
        .execute(
            commands.ApproveTimeEntry(
                entry_id=entry_id,
                expected_version=expected_version(),
                actor_id=current_caller().person_id,
                caller=current_caller(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/time-entries/<uuid:entry_id>/reject", methods=["POST"])
@checked_first(entry_approver, 403)
@problems(412)
@blp.arguments(RejectTimeEntrySchema)
@blp.response(200, CommandResultSchema)
def reject_time_entry(body: dict[str, Any], entry_id: uuid.UUID) -> Response:
    """Reject a draft or submitted entry with a reason; it counts in no total."""
    outcome = (
        runtime()
        .execute(
            commands.RejectTimeEntry(
                entry_id=entry_id,
                reason=body["reason"].strip(),
                expected_version=expected_version(),
                actor_id=current_caller().person_id,
                caller=current_caller(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/settings/lock-date", methods=["PUT"])
@roles(Role.ADMIN)
@blp.arguments(LockDateSchema)
@blp.response(200, CommandResultSchema)
def set_lock_date(body: dict[str, Any]) -> Response:
    """Set the firm's lock date: no entry dated on or before it is logged, amended, deleted,
    submitted or rejected (409 period-locked) except by an admin, which the event records."""
    caller = require_role(Role.ADMIN)
    outcome = (
        runtime()
        .execute(
            commands.SetLockDate(
                lock_date=body["lock_date"],
                actor_id=caller.person_id,
                expected_version=expected_version(),
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/timesheets/<uuid:person_id>/<isoweek:week>/submit", methods=["POST"])
@problems(403)
@blp.response(200, CommandResultSchema)
def submit_timesheet(person_id: uuid.UUID, week: str) -> Response:
    """Submit a person's week: their draft entries of it become submitted together (the
    person, or an admin)."""
    caller = current_caller()
    if not caller.is_admin and caller.person_id != person_id:
        raise Problem(403, "Submit your own week (only an admin submits others').")
    outcome = (
        runtime()
        .execute(
            commands.SubmitTimesheet(person_id=person_id, week=week, actor_id=caller.person_id)
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/timesheets/<uuid:person_id>/<isoweek:week>/approve", methods=["POST"])
@roles(Role.ADMIN, Role.MANAGER)
@blp.response(200, CommandResultSchema)
def approve_timesheet(person_id: uuid.UUID, week: str) -> Response:
    """Approve a submitted week: an admin all its submitted entries, a manager those on the
    projects they manage (409 when there are none)."""
    caller = require_role(Role.ADMIN, Role.MANAGER)
    outcome = (
        runtime()
        .execute(
            commands.ApproveTimesheet(person_id=person_id, week=week, actor_id=caller.person_id)
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/timesheets/<uuid:person_id>/<isoweek:week>/reject", methods=["POST"])
@roles(Role.ADMIN, Role.MANAGER)
@blp.arguments(RejectTimesheetSchema)
@blp.response(200, CommandResultSchema)
def reject_timesheet(body: dict[str, Any], person_id: uuid.UUID, week: str) -> Response:
    """Reject a submitted week with a reason (the same entries approval would take)."""
    caller = require_role(Role.ADMIN, Role.MANAGER)
    outcome = (
        runtime()
        .execute(
            commands.RejectTimesheet(
                person_id=person_id,
                week=week,
                reason=body["reason"].strip(),
                actor_id=caller.person_id,
            )
        )
        .outcome
    )
    return command_response(outcome, 200)


@blp.route("/people/<uuid:person_id>/archive", methods=["POST"])
@roles(Role.ADMIN)
@blp.response(200, CommandResultSchema)
def archive_person(person_id: uuid.UUID) -> Response:
    """Archive a person (admins): they log no time and their tokens stop working; their
    time stays in every report."""
    archived = _archive(commands.ArchivePerson(person_id, True, require_role(Role.ADMIN).person_id))
    runtime().token_cache.forget_person(person_id)
    return archived


@blp.route("/people/<uuid:person_id>/restore", methods=["POST"])
@roles(Role.ADMIN)
@blp.response(200, CommandResultSchema)
def restore_person(person_id: uuid.UUID) -> Response:
    """Restore an archived person (admins)."""
    return _archive(commands.ArchivePerson(person_id, False, require_role(Role.ADMIN).person_id))


@blp.route("/clients/<uuid:client_id>/archive", methods=["POST"])
@roles(Role.ADMIN)
@blp.response(200, CommandResultSchema)
def archive_client(client_id: uuid.UUID) -> Response:
    """Archive a client (admins): it gets no new projects."""
    return _archive(commands.ArchiveClient(client_id, True, require_role(Role.ADMIN).person_id))


@blp.route("/clients/<uuid:client_id>/restore", methods=["POST"])
@roles(Role.ADMIN)
@blp.response(200, CommandResultSchema)
def restore_client(client_id: uuid.UUID) -> Response:
    """Restore an archived client (admins)."""
    return _archive(commands.ArchiveClient(client_id, False, require_role(Role.ADMIN).person_id))


@blp.route("/projects/<uuid:project_id>/archive", methods=["POST"])
@problems(403)
@blp.response(200, CommandResultSchema)
def archive_project(project_id: uuid.UUID) -> Response:
    """Archive a project (admins, or its manager): it takes no time; lists hide it unless
    asked (?archived=true)."""
    caller = current_caller()
    return _archive(commands.ArchiveProject(project_id, True, caller.person_id, caller))


@blp.route("/projects/<uuid:project_id>/restore", methods=["POST"])
@problems(403)
@blp.response(200, CommandResultSchema)
def restore_project(project_id: uuid.UUID) -> Response:
    """Restore an archived project (admins, or its manager)."""
    caller = current_caller()
    return _archive(commands.ArchiveProject(project_id, False, caller.person_id, caller))


def _archive(cmd: commands.Command) -> Response:
    outcome = runtime().execute(cmd).outcome
    return command_response(outcome, 200)

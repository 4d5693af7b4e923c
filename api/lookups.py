"""Lookups, from the read models: who am I, clients, people, a project's tasks, one entry."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, fields, validate

from api.auth import Caller, current_caller
from api.errors import Problem
from api.fields import Hours
from api.openapi import problems
from api.parsing import Blueprint
from api.queries import Reply, read, read_connection, wait_for
from api.schemas import MinPositionSchema, PageQuerySchema, TimeEntryRowSchema
from domain.model import Role
from readmodels import lookups

blp = Blueprint("lookups", __name__, description="Lookups: served from the read models.")


class NameQuerySchema(PageQuerySchema):
    name = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Only names that start with this (case-blind)."},
    )


class ClientSchema(Schema):
    id = fields.UUID(required=True, attribute="client_id")
    name = fields.String(required=True)


class ClientPageSchema(Schema):
    items = fields.List(fields.Nested(ClientSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class PersonSchema(Schema):
    id = fields.UUID(required=True, attribute="person_id")
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Shown to admins and to the person; null to others."},
    )
    role = fields.String(required=True, validate=validate.OneOf([role.value for role in Role]))
    weekly_capacity_hours = Hours(
        required=True, attribute="weekly_capacity_hundredths", maximum=168
    )


class PersonPageSchema(Schema):
    items = fields.List(fields.Nested(PersonSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TaskSchema(Schema):
    id = fields.UUID(required=True, attribute="task_id")
    project_id = fields.UUID(required=True)
    name = fields.String(required=True)
    estimate_hours = Hours(
        required=True, allow_none=True, attribute="estimate_hundredths", maximum=100_000
    )
    completed = fields.Boolean(required=True)


class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def _position(position: int) -> dict[str, str]:
    return {"X-Projection-Position": str(position)}


def _members_view(caller: Caller) -> uuid.UUID | None:
    """Members see their teammates; admins and managers see everyone."""
    return caller.person_id if caller.role == Role.MEMBER else None


def _with_email(caller: Caller, row: dict[str, Any]) -> dict[str, Any]:
    if caller.is_admin or row["person_id"] == caller.person_id:
        return row
    return row | {"email": None}


@blp.route("/me", methods=["GET"])
@blp.arguments(MinPositionSchema, location="query")
@blp.response(200, PersonSchema)
@problems(404, 409)
def me(args: dict[str, Any]) -> Reply:
    """The caller: id, name, email, role (404 until the directory has caught up)."""
    caller = current_caller()
    wait_for("directory", args)
    with read_connection() as conn:
        row, position = lookups.person(conn, caller.person_id, None)
    if row is None:
        raise Problem(404, "The directory does not list you yet; retry with min_position.")
    return row, 200, _position(position)


@blp.route("/clients", methods=["GET"])
@blp.arguments(NameQuerySchema, location="query")
@blp.response(200, ClientPageSchema)
@problems(409)
def list_clients(args: dict[str, Any]) -> Reply:
    """Clients by name."""
    return read(
        "directory",
        args,
        lambda conn: lookups.clients(
            conn, name=args.get("name"), limit=args["limit"], cursor=args["cursor"]
        ),
    )


@blp.route("/clients/<uuid:client_id>", methods=["GET"])
@blp.arguments(MinPositionSchema, location="query")
@blp.response(200, ClientSchema)
@problems(409)
def get_client(args: dict[str, Any], client_id: uuid.UUID) -> Reply:
    """One client."""
    wait_for("directory", args)
    with read_connection() as conn:
        row, position = lookups.client(conn, client_id)
    if row is None:
        raise Problem(404, f"No client {client_id}.")
    return row, 200, _position(position)


@blp.route("/people", methods=["GET"])
@blp.arguments(NameQuerySchema, location="query")
@blp.response(200, PersonPageSchema)
@problems(409)
def list_people(args: dict[str, Any]) -> Reply:
    """People by name; members see themselves and their projects' teammates. Emails only to
    admins and the person."""
    caller = current_caller()
    body, status, headers = read(
        "directory",
        args,
        lambda conn: lookups.people(
            conn,
            name=args.get("name"),
            visible_to=_members_view(caller),
            limit=args["limit"],
            cursor=args["cursor"],
        ),
    )
    body["items"] = [_with_email(caller, row) for row in body["items"]]
    return body, status, headers


@blp.route("/people/<uuid:person_id>", methods=["GET"])
@blp.arguments(MinPositionSchema, location="query")
@blp.response(200, PersonSchema)
@problems(409)
def get_person(args: dict[str, Any], person_id: uuid.UUID) -> Reply:
    """One person, under the same rules as the list."""
    caller = current_caller()
    wait_for("directory", args)
    with read_connection() as conn:
        row, position = lookups.person(conn, person_id, _members_view(caller))
    if row is None:
        raise Problem(404, f"No person {person_id}.")
    return _with_email(caller, row), 200, _position(position)


@blp.route("/projects/<uuid:project_id>/tasks", methods=["GET"])
@blp.arguments(NameQuerySchema, location="query")
@blp.response(200, TaskPageSchema)
@problems(409)
def list_tasks(args: dict[str, Any], project_id: uuid.UUID) -> Reply:
    """A project's tasks by name, for whoever may see the project."""
    caller = current_caller()
    wait_for("directory", args)
    with read_connection() as conn:
        team = lookups.project_team(conn, project_id)
    if team is None or (caller.role == Role.MEMBER and caller.person_id not in team):
        raise Problem(404, f"No project {project_id}.")
    return read(
        "directory",
        args,
        lambda conn: lookups.tasks(
            conn, project_id, name=args.get("name"), limit=args["limit"], cursor=args["cursor"]
        ),
    )


@blp.route("/time-entries/<uuid:entry_id>", methods=["GET"])
@blp.arguments(MinPositionSchema, location="query")
@blp.response(200, TimeEntryRowSchema)
@problems(409)
def get_time_entry(args: dict[str, Any], entry_id: uuid.UUID) -> Reply:
    """One time entry; members see only their own."""
    caller = current_caller()
    wait_for("time_entry_rows", args)
    with read_connection() as conn:
        row, position = lookups.time_entry(conn, entry_id)
    if row is None or (caller.role == Role.MEMBER and row["person_id"] != caller.person_id):
        raise Problem(404, f"No time entry {entry_id}.")
    return row, 200, _position(position)

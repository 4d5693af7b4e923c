"""The command side of the HTTP API: validate, run a handler, answer with the position."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify, request
from flask_smorest import Blueprint

from api.auth import hash_token, new_token, require_role
from api.errors import Problem
from api.runtime import runtime
from api.schemas import (
    CommandResultSchema,
    CreateProjectSchema,
    PersonCreatedSchema,
    RegisterClientSchema,
    RegisterPersonSchema,
    RenameClientSchema,
)
from domain import commands
from domain.handlers import Outcome

blp = Blueprint("commands", __name__, description="Commands: every change goes through here.")


def expected_version() -> int | None:
    """The version named by If-Match ("<version>"), if any."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Problem(400, 'If-Match takes an ETag: "<version>".')
    return int(value)


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


@blp.route("/clients", methods=["POST"])
@blp.arguments(RegisterClientSchema)
@blp.response(201, CommandResultSchema)
def register_client(body: dict[str, Any]) -> Response:
    """Register a client."""
    require_role("admin", "manager")
    outcome, _ = runtime().execute(commands.RegisterClient(name=body["name"].strip()))
    return command_response(outcome, 201)


@blp.route("/clients/<uuid:client_id>", methods=["PATCH"])
@blp.arguments(RenameClientSchema)
@blp.response(200, CommandResultSchema)
def rename_client(body: dict[str, Any], client_id: uuid.UUID) -> Response:
    """Rename a client; the new name reaches every read model."""
    require_role("admin", "manager")
    outcome, _ = runtime().execute(
        commands.RenameClient(
            client_id=client_id, name=body["name"].strip(), expected_version=expected_version()
        )
    )
    return command_response(outcome, 200)


@blp.route("/people", methods=["POST"])
@blp.arguments(RegisterPersonSchema)
@blp.response(201, PersonCreatedSchema)
def register_person(body: dict[str, Any]) -> Response:
    """Register a person and issue their first token (shown once)."""
    require_role("admin")
    token = new_token()
    outcome, _ = runtime().execute(
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
    return command_response(outcome, 201, {"token": token})


@blp.route("/projects", methods=["POST"])
@blp.arguments(CreateProjectSchema)
@blp.response(201, CommandResultSchema)
@blp.alt_response(202, schema=CommandResultSchema, description="The dashboard is not yet current.")
def create_project(body: dict[str, Any]) -> Response:
    """Create a project; its dashboard is readable at once (202 if not yet)."""
    require_role("admin", "manager")
    outcome, current = runtime().execute(
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
        outcome,
        201 if current else 202,
        headers={"Location": f"/api/v1/projects/{outcome.id}/dashboard"},
    )

"""API tokens: the caller's own under /me/tokens; an admin's view of anyone's under
/people/{id}/tokens. A token's secret is shown once, when it is created, never listed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Response, jsonify
from sqlalchemy import select

from api.auth import current_caller, require_role
from api.errors import Problem
from api.openapi import roles
from api.parsing import Blueprint
from api.runtime import runtime
from api.schemas import CreateTokenSchema, TokenCreatedSchema, TokenListSchema
from domain.model import Role
from domain.store import tables
from domain.store.tokens import issue_token, list_tokens, revoke_token

blp = Blueprint("tokens", __name__, description="API tokens: list, create (admin), revoke.")


def _revoke(token_id: uuid.UUID, person_id: uuid.UUID) -> Response:
    rt = runtime()
    if not revoke_token(rt.databases.write, token_id, person_id):
        raise Problem(404, f"No token {token_id}.")
    rt.token_cache.forget_token(token_id)
    return Response(status=204)


def _listed(person_id: uuid.UUID) -> dict[str, Any]:
    caller = current_caller()
    items = list_tokens(runtime().databases.write_autocommit, person_id)
    return {"items": [item | {"current": item["id"] == caller.token_id} for item in items]}


def _existing_person(person_id: uuid.UUID) -> uuid.UUID:
    with runtime().databases.write_autocommit.connect() as conn:
        found = conn.execute(
            select(tables.people.c.id).where(tables.people.c.id == person_id)
        ).scalar_one_or_none()
    if found is None:
        raise Problem(404, f"No person {person_id}.")
    return person_id


@blp.route("/me/tokens", methods=["GET"])
@blp.response(200, TokenListSchema)
def my_tokens() -> dict[str, Any]:
    """The caller's tokens: id, name, creation, last use and expiry (never the secret)."""
    return _listed(current_caller().person_id)


@blp.route("/me/tokens/<uuid:token_id>", methods=["DELETE"])
@blp.response(204)
def revoke_my_token(token_id: uuid.UUID) -> Response:
    """Revoke one of the caller's tokens (the one in use included); refused from the next
    request on."""
    return _revoke(token_id, current_caller().person_id)


@blp.route("/people/<uuid:person_id>/tokens", methods=["GET"])
@roles(Role.ADMIN)
@blp.response(200, TokenListSchema)
def person_tokens(person_id: uuid.UUID) -> dict[str, Any]:
    """A person's tokens (admin)."""
    require_role(Role.ADMIN)
    return _listed(_existing_person(person_id))


@blp.route("/people/<uuid:person_id>/tokens", methods=["POST"])
@roles(Role.ADMIN)
@blp.arguments(CreateTokenSchema)
@blp.response(201, TokenCreatedSchema)
def create_person_token(body: dict[str, Any], person_id: uuid.UUID) -> Response:
    """Issue a token for a person (admin); the secret is in this response only."""
    require_role(Role.ADMIN)
    days = body.get("expires_in_days")
    with runtime().databases.write.begin() as conn:
        issued = issue_token(
            conn,
            _existing_person(person_id),
            body["name"].strip(),
            dt.timedelta(days=days) if days else None,
        )
    response = jsonify(
        TokenCreatedSchema().dump(
            {
                "id": issued.id,
                "name": issued.name,
                "created_at": issued.created_at,
                "last_used_at": None,
                "expires_at": issued.expires_at,
                "current": False,
                "token": issued.token,
            }
        )
    )
    response.status_code = 201
    return response


@blp.route("/people/<uuid:person_id>/tokens/<uuid:token_id>", methods=["DELETE"])
@roles(Role.ADMIN)
@blp.response(204)
def revoke_person_token(person_id: uuid.UUID, token_id: uuid.UUID) -> Response:
    """Revoke a person's token (admin)."""
    require_role(Role.ADMIN)
    return _revoke(token_id, person_id)

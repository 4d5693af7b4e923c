"""History, from the event log: an entity's events in order, each with when, who, what
changed and, for a rejection, why. Visibility is the entity's own."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import Connection, select

from api.auth import Caller, current_caller
from api.errors import Problem
from api.fields import UtcDateTime
from api.openapi import problems
from api.parsing import Blueprint
from api.queries import read_connection
from api.runtime import runtime
from api.schemas import PagingSchema
from domain import access
from domain.model import Role
from domain.store import tables
from domain.store.repositories import ProjectRepository
from readmodels import lookups
from readmodels.queries import BadCursor, decode_cursor, encode_cursor

blp = Blueprint("history", __name__, description="History: each entity's events, in order.")

# The snapshot fields a time-entry event carries before and after; the rest are ids.
SNAPSHOT_KEYS = ("before", "after")


class ActorSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True, allow_none=True)


class ChangeSchema(Schema):
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


class HistoryItemSchema(Schema):
    position = fields.Integer(required=True)
    version = fields.Integer(required=True)
    event = fields.String(required=True, metadata={"example": "TimeEntryRejected"})
    at = UtcDateTime(required=True)
    actor = fields.Nested(
        ActorSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Who sent the command; null for the system (start-up)."},
    )
    data = fields.Dict(
        required=True, metadata={"description": "The event's fields (ids, names, amounts)."}
    )
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ChangeSchema),
        required=True,
        metadata={"description": "Per field that changed: before and after (time entries)."},
    )
    reason = fields.String(required=True, allow_none=True)


class HistoryPageSchema(Schema):
    items = fields.List(fields.Nested(HistoryItemSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def _changes(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    before, after = data.get("before") or {}, data.get("after") or {}
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def events_of(
    conn: Connection, aggregate_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    log = tables.event_log
    query = select(log).where(log.c.aggregate_id == aggregate_id)
    if cursor:
        try:
            (after,) = decode_cursor(cursor, [int])
        except BadCursor as error:
            raise Problem(422, str(error), errors={"cursor": [str(error)]}) from error
        query = query.where(log.c.aggregate_version > after)
    rows = list(conn.execute(query.order_by(log.c.aggregate_version).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].aggregate_version])
    actor_ids = {uuid.UUID(row.metadata["actor"]) for row in rows if row.metadata.get("actor")}
    people = tables.people
    names = {
        person.id: f"{person.first_name} {person.last_name}"
        for person in conn.execute(
            select(people.c.id, people.c.first_name, people.c.last_name).where(
                people.c.id.in_(actor_ids)
            )
        )
    }
    items = []
    for row in rows:
        actor = row.metadata.get("actor")
        actor_id = uuid.UUID(actor) if actor else None
        items.append(
            {
                "position": row.position,
                "version": row.aggregate_version,
                "event": row.event_type,
                "at": row.recorded_at,
                "actor": None
                if actor_id is None
                else {"id": actor_id, "name": names.get(actor_id)},
                "data": {k: v for k, v in row.data.items() if k not in SNAPSHOT_KEYS},
                "changes": _changes(row.data),
                "reason": row.data.get("reason"),
            }
        )
    return items, next_cursor


def history(
    aggregate_id: uuid.UUID,
    args: dict[str, Any],
    may_see: Callable[[Connection, Caller, dict[str, Any]], bool],
    what: str,
) -> dict[str, Any]:
    """The aggregate's events, if its first event shows the caller may see it, else 404."""
    caller = current_caller()
    with runtime().databases.write_autocommit.connect() as conn:
        first, _ = events_of(conn, aggregate_id, 1, None)
        if not first or not may_see(conn, caller, first[0]["data"]):
            raise Problem(404, f"No {what} {aggregate_id}.")
        items, next_cursor = events_of(conn, aggregate_id, args["limit"], args["cursor"])
    for item in items:
        if not (caller.is_admin or item["data"].get("person_id") == str(caller.person_id)):
            item["data"].pop("email", None)  # emails go to admins and the person only
    return {"items": items, "next_cursor": next_cursor}


def _own_entry(conn: Connection, caller: Caller, created: dict[str, Any]) -> bool:
    return caller.role != Role.MEMBER or created["person_id"] == str(caller.person_id)


def _visible_project(conn: Connection, caller: Caller, created: dict[str, Any]) -> bool:
    project = ProjectRepository(conn).get(uuid.UUID(created["project_id"]))
    return project is not None and access.sees_project(caller, project)


def _visible_person(conn: Connection, caller: Caller, created: dict[str, Any]) -> bool:
    if caller.role != Role.MEMBER:
        return True
    with read_connection() as read_conn:
        row, _ = lookups.person(read_conn, uuid.UUID(created["person_id"]), caller.person_id)
    return row is not None


def _anyone(conn: Connection, caller: Caller, created: dict[str, Any]) -> bool:
    return True


def _route(path: str, what: str, may_see: Callable[..., bool]) -> None:
    @blp.route(path, methods=["GET"], endpoint=f"{what.replace(' ', '_')}_history")
    @blp.arguments(PagingSchema, location="query")
    @blp.response(200, HistoryPageSchema)
    @problems(404)
    def view(args: dict[str, Any], **path_id: uuid.UUID) -> dict[str, Any]:
        (entity_id,) = path_id.values()
        return history(entity_id, args, may_see, what)

    view.__doc__ = f"The {what}'s events in order: when, who, what changed, why (rejections)."


_route("/time-entries/<uuid:entry_id>/history", "time entry", _own_entry)
_route("/projects/<uuid:project_id>/history", "project", _visible_project)
_route("/people/<uuid:person_id>/history", "person", _visible_person)
_route("/clients/<uuid:client_id>/history", "client", _anyone)

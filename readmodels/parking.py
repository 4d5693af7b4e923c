"""Operators' actions on parked events: list, retry in order, skip; each one recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from domain.store import event_log
from domain.store.db import Databases, utc_now
from domain.store.event_log import RecordedEvent
from readmodels.audit import record_action
from readmodels.catchup.checkpoints import locked_checkpoint
from readmodels.projection import Projection
from readmodels.tables import parked_events

OPERATOR_LOCK_TIMEOUT = 30.0


def list_parked(dbs: Databases, name: str, limit: int = 500) -> list[dict[str, Any]]:
    with dbs.read_autocommit.connect() as conn:
        rows = conn.execute(
            select(parked_events)
            .where(parked_events.c.projection == name)
            .order_by(parked_events.c.position)
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]


def retry_parked(
    dbs: Databases, projection: Projection, actor: str, key: str | None = None
) -> dict[str, Any]:
    """Apply parked events again in position order; a key that fails again stays parked."""
    with locked_checkpoint(dbs, projection.name, OPERATOR_LOCK_TIMEOUT) as (conn, _checkpoint):
        positions = _parked_positions(conn, projection.name, key)
        events = _load_events(dbs, conn, positions)
        tables = projection.live_tables()
        applied: list[int] = []
        failed_keys: set[str] = set()
        for event in events:
            event_key = projection.key(event)
            if event_key in failed_keys:
                continue
            try:
                with conn.begin_nested():
                    projection.apply(conn, tables, event)
            except Exception as error:
                failed_keys.add(event_key)
                conn.execute(
                    update(parked_events)
                    .where(
                        parked_events.c.projection == projection.name,
                        parked_events.c.position == event.position,
                    )
                    .values(error=f"retry failed: {error!r}"[:4000], parked_at=utc_now())
                )
                continue
            applied.append(event.position)
        if applied:
            conn.execute(
                delete(parked_events).where(
                    parked_events.c.projection == projection.name,
                    parked_events.c.position.in_(applied),
                )
            )
        result = {
            "applied": applied,
            "still_parked": len(positions) - len(applied),
            "failed_keys": sorted(failed_keys),
        }
        record_action(conn, projection.name, "retry", actor, {"key": key} | result)
        return result


def skip_parked(
    dbs: Databases, projection: Projection, actor: str, key: str | None = None
) -> dict[str, Any]:
    """Drop parked events unapplied, so later events of their keys flow again."""
    with locked_checkpoint(dbs, projection.name, OPERATOR_LOCK_TIMEOUT) as (conn, _checkpoint):
        positions = _parked_positions(conn, projection.name, key)
        if positions:
            conn.execute(
                delete(parked_events).where(
                    parked_events.c.projection == projection.name,
                    parked_events.c.position.in_(positions),
                )
            )
        result = {"skipped": positions}
        record_action(conn, projection.name, "skip", actor, {"key": key} | result)
        return result


def _parked_positions(conn: Connection, name: str, key: str | None) -> list[int]:
    query = select(parked_events.c.position).where(parked_events.c.projection == name)
    if key is not None:
        query = query.where(parked_events.c.event_key == key)
    return list(conn.execute(query.order_by(parked_events.c.position)).scalars())


def _load_events(dbs: Databases, conn: Connection, positions: list[int]) -> list[RecordedEvent]:
    if not positions:
        return []
    if dbs.same:
        return event_log.read_positions(conn, positions)
    with dbs.write.connect() as write_conn:
        return event_log.read_positions(write_conn, positions)

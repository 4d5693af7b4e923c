"""Operator actions on projections (retry, skip, rebuild, verify): who did what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from domain.store.db import Databases, utc_now
from readmodels.tables import operator_actions


def record_action(
    conn: Connection, projection: str, action: str, actor: str, detail: dict[str, Any]
) -> None:
    """Record an action inside the transaction that carries it out."""
    conn.execute(
        insert(operator_actions).values(
            projection=projection, action=action, actor=actor, detail=detail, at=utc_now()
        )
    )


def record(
    dbs: Databases, projection: str, action: str, actor: str, detail: dict[str, Any]
) -> None:
    """Record an action carried out elsewhere (a rebuild runs in a worker)."""
    with dbs.read.begin() as conn:
        record_action(conn, projection, action, actor, detail)


def recent_actions(
    dbs: Databases, projection: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest actions first, of one projection or of all."""
    query = select(operator_actions).order_by(operator_actions.c.id.desc()).limit(limit)
    if projection is not None:
        query = query.where(operator_actions.c.projection == projection)
    with dbs.read_autocommit.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]

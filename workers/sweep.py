"""What beat's sweep finds: the projections behind the head of the log, and those whose
projector's version changed (rebuilt unless a live rebuild is under way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from domain.store.db import Databases, as_utc, utc_now
from readmodels.catchup.checkpoints import head_position
from readmodels.rebuild import STALE_REBUILD
from readmodels.registry import PROJECTIONS
from readmodels.tables import projection_checkpoints


@dataclass(frozen=True)
class Survey:
    head: int
    behind: list[str]
    outdated: list[str]


def survey(databases: Databases) -> Survey:
    head = head_position(databases)
    with databases.read_autocommit.connect() as conn:
        checkpoints = {row.name: row for row in conn.execute(select(projection_checkpoints))}
    behind, outdated = [], []
    for name, projection in PROJECTIONS.items():
        checkpoint = checkpoints.get(name)
        if checkpoint is None:
            continue
        if _outdated(checkpoint, projection.version):
            outdated.append(name)
        elif checkpoint.position < head:
            behind.append(name)
    return Survey(head, behind, outdated)


def needs_rebuild(databases: Databases, name: str) -> bool:
    with databases.read_autocommit.connect() as conn:
        checkpoint = conn.execute(
            select(projection_checkpoints).where(projection_checkpoints.c.name == name)
        ).one()
    return _outdated(checkpoint, PROJECTIONS[name].version)


def _outdated(checkpoint: Any, version: int) -> bool:
    """The projector's version changed, and no live rebuild is under way."""
    if checkpoint.version == version:
        return False
    heartbeat = as_utc(checkpoint.rebuild_heartbeat_at)
    return checkpoint.status != "rebuilding" or (
        heartbeat is None or heartbeat < utc_now() - STALE_REBUILD
    )

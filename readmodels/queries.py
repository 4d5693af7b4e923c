"""Read queries: single-table lookups by key or index range."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, select

from readmodels.engine import checkpoint_of
from readmodels.tables import project_dashboards


def dashboard(conn: Connection, project_id: uuid.UUID) -> tuple[dict[str, Any] | None, int]:
    """The project's dashboard row and the checkpoint it reflects at least."""
    position = checkpoint_of(conn, "project_dashboards")
    row = conn.execute(
        select(project_dashboards).where(project_dashboards.c.project_id == project_id)
    ).one_or_none()
    return (None if row is None else dict(row._mapping)), position

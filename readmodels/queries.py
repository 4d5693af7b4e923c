"""Read queries: single-table lookups by key or index range, keyset-paginated.

A cursor is the sort key of the last row served, so a page costs the same however deep it is.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Label, Select, bindparam, select, tuple_

from domain.money import percent
from readmodels.catchup.checkpoints import checkpoint_of
from readmodels.tables import (
    budget_burn,
    client_revenue,
    project_dashboards,
    project_dashboards__team,
    project_profitability,
    projection_checkpoints,
    time_entry_rows,
    timesheet_weeks,
    utilization,
)
from readmodels.tables import (
    lock_date as lock_date_table,
)


class BadCursor(ValueError):
    """The cursor was not one this API handed out."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    position: int


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([str(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError(cursor)
        return [_parse(kind, value) for kind, value in zip(types, values, strict=True)]
    except (ValueError, TypeError) as error:
        raise BadCursor("The cursor is not valid.") from error


def _parse(kind: type, value: str) -> Any:
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    parsed = kind(value)
    if isinstance(parsed, Decimal) and not parsed.is_finite():
        raise ValueError(value)  # "NaN", "sNaN", "Infinity": no row sorts there
    return parsed


# The label of the column `with_checkpoint` adds; no read-model column starts with "_".
_POSITION = "_checkpoint_position"


@functools.cache
def _checkpoint_column(projection: str) -> Label[int]:
    """The projection's checkpoint as a scalar subquery, built once per projection."""
    checkpoint = projection_checkpoints
    return (
        select(checkpoint.c.position)
        .where(checkpoint.c.name == projection)
        .scalar_subquery()
        .label(_POSITION)
    )


def with_checkpoint(query: Select[Any], projection: str) -> Select[Any]:
    """The query with its projection's checkpoint as one more column, for `at_checkpoint`."""
    return query.add_columns(_checkpoint_column(projection))


def at_checkpoint(
    conn: Connection,
    query: Select[Any],
    projection: str,
    params: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The rows of `query`, made by `with_checkpoint(..., projection)`, and the checkpoint
    they reflect. Rows come with the checkpoint their own statement read: one snapshot, so
    they reflect exactly that position (a checkpoint advances in the transaction that writes
    its rows), in one round trip. No rows come with none: then the checkpoint is read first
    and the query run again, so that the position is one the answer reflects at least."""
    found = _rows_at_checkpoint(conn, query, params)
    if found is None:
        position = checkpoint_of(conn, projection)
        found = _rows_at_checkpoint(conn, query, params) or ([], position)
    return found


def _rows_at_checkpoint(
    conn: Connection, query: Select[Any], params: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], int] | None:
    items = [dict(row._mapping) for row in conn.execute(query, params)]
    if not items:
        return None
    position: int = items[0][_POSITION]
    for item in items:
        del item[_POSITION]
    return items, position


def _page(
    conn: Connection,
    query: Select[Any],
    order: Sequence[Column[Any]],
    types: Sequence[type],
    limit: int,
    cursor: str | None,
    descending: bool,
    projection: str,
) -> Page:
    if cursor:
        after = decode_cursor(cursor, types)
        key = tuple_(*order)
        query = query.where(key < tuple_(*after) if descending else key > tuple_(*after))
    query = query.order_by(*(c.desc() if descending else c for c in order)).limit(limit + 1)
    rows, position = at_checkpoint(conn, with_checkpoint(query, projection), projection)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1][c.name] for c in order])
    return Page(rows, next_cursor, position)


# Built once: every dashboard GET runs it (and a statement object SQLAlchemy has seen before
# costs no construction and no adaptation of its cached compilation's result columns).
DASHBOARD = with_checkpoint(
    select(project_dashboards).where(project_dashboards.c.project_id == bindparam("project_id")),
    "project_dashboards",
)


def dashboard(conn: Connection, project_id: uuid.UUID) -> tuple[dict[str, Any] | None, int]:
    """The project's dashboard row and the checkpoint it reflects."""
    rows, position = at_checkpoint(
        conn, DASHBOARD, "project_dashboards", {"project_id": project_id}
    )
    return (rows[0] if rows else None), position


def projects(
    conn: Connection,
    *,
    client_id: uuid.UUID | None = None,
    manager_id: uuid.UUID | None = None,
    status: str | None = None,
    member_id: uuid.UUID | None = None,
    include_archived: bool = False,
    sort: str = "name",
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    t = project_dashboards
    query = select(t)
    if client_id is not None:
        query = query.where(t.c.client_id == client_id)
    if manager_id is not None:
        query = query.where(t.c.manager_id == manager_id)
    if status is not None:
        query = query.where(t.c.status == status)
    if not include_archived:
        query = query.where(t.c.archived.is_(False))
    if member_id is not None:
        team = project_dashboards__team
        query = query.where(
            t.c.project_id.in_(select(team.c.project_id).where(team.c.person_id == member_id))
        )
    if sort == "-budget_used_pct":
        return _page(
            conn,
            query,
            [t.c.budget_used_pct, t.c.project_id],
            [Decimal, uuid.UUID],
            limit,
            cursor,
            descending=True,
            projection="project_dashboards",
        )
    return _page(
        conn,
        query,
        [t.c.name, t.c.project_id],
        [str, uuid.UUID],
        limit,
        cursor,
        descending=False,
        projection="project_dashboards",
    )


def time_entries(
    conn: Connection,
    *,
    person_id: uuid.UUID | None = None,
    viewer_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    status: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Entries newest first; viewer_id keeps only that person's own (members see theirs)."""
    t = time_entry_rows
    query = select(t)
    for column, value in (
        (t.c.person_id, person_id),
        (t.c.person_id, viewer_id),
        (t.c.project_id, project_id),
        (t.c.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    if date_from is not None:
        query = query.where(t.c.date >= date_from)
    if date_to is not None:
        query = query.where(t.c.date <= date_to)
    return _page(
        conn,
        query,
        [t.c.date, t.c.id],
        [dt.date, uuid.UUID],
        limit,
        cursor,
        descending=True,
        projection="time_entry_rows",
    )


def utilization_report(
    conn: Connection, date_from: dt.date, date_to: dt.date, limit: int, cursor: str | None
) -> Page:
    """Rows for the ISO weeks that overlap [date_from, date_to]."""
    t = utilization
    first_monday = date_from - dt.timedelta(days=date_from.weekday())
    query = select(t).where(t.c.week_start >= first_monday, t.c.week_start <= date_to)
    page = _page(
        conn,
        query,
        [t.c.week_start, t.c.person_id],
        [dt.date, uuid.UUID],
        limit,
        cursor,
        descending=False,
        projection="utilization",
    )
    for row in page.items:
        capacity = row["capacity_hundredths"]
        row["utilization_pct"] = float(percent(row["hundredths"], capacity))
        row["billable_utilization_pct"] = float(percent(row["billable_hundredths"], capacity))
    return page


def revenue_report(
    conn: Connection, date_from: dt.date, date_to: dt.date, limit: int, cursor: str | None
) -> Page:
    """Rows for the months that overlap [date_from, date_to]."""
    t = client_revenue
    query = select(t).where(t.c.month_start >= date_from.replace(day=1), t.c.month_start <= date_to)
    return _page(
        conn,
        query,
        [t.c.month_start, t.c.client_id],
        [dt.date, uuid.UUID],
        limit,
        cursor,
        descending=False,
        projection="client_revenue",
    )


def profitability_report(
    conn: Connection, date_from: dt.date, date_to: dt.date, limit: int, cursor: str | None
) -> Page:
    """Rows for the months that overlap [date_from, date_to]."""
    t = project_profitability
    query = select(t).where(t.c.month_start >= date_from.replace(day=1), t.c.month_start <= date_to)
    return _page(
        conn,
        query,
        [t.c.month_start, t.c.project_id],
        [dt.date, uuid.UUID],
        limit,
        cursor,
        descending=False,
        projection="project_profitability",
    )


def timesheets(
    conn: Connection,
    *,
    person_id: uuid.UUID | None = None,
    viewer_id: uuid.UUID | None = None,
    week: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Person x week rows, latest week first; viewer_id keeps only that person's own."""
    t = timesheet_weeks
    query = select(t)
    for column, value in (
        (t.c.person_id, person_id),
        (t.c.person_id, viewer_id),
        (t.c.week, week),
        (t.c.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    return _page(
        conn,
        query,
        [t.c.week_start, t.c.person_id],
        [dt.date, uuid.UUID],
        limit,
        cursor,
        descending=True,
        projection="timesheets",
    )


def budget_burn_report(conn: Connection, project_id: uuid.UUID) -> Page:
    """Every week of the project with billed and cumulative billed amounts."""
    query = (
        select(budget_burn)
        .where(budget_burn.c.project_id == project_id)
        .order_by(budget_burn.c.week_start)
    )
    rows, position = at_checkpoint(conn, with_checkpoint(query, "budget_burn"), "budget_burn")
    cumulative = 0
    for row in rows:
        cumulative += row["billed_cents"]
        row["cumulative_billed_cents"] = cumulative
        row["budget_remaining_cents"] = row["budget_cents"] - cumulative
    return Page(rows, None, position)


def lock_date(conn: Connection) -> tuple[dict[str, Any], int]:
    """The lock date and who set it (both None before one was set), and the checkpoint."""
    query = select(lock_date_table.c.lock_date, lock_date_table.c.set_by).limit(1)
    rows, position = at_checkpoint(conn, with_checkpoint(query, "lock_date"), "lock_date")
    return (rows[0] if rows else {"lock_date": None, "set_by": None}), position

"""timesheets: one row per person and ISO week, with its entries by status, the week's
status, and the last action on the week as a whole (who submitted, approved or rejected it).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    delete,
    select,
    tuple_,
    update,
)

from domain import events
from domain.model import ENTRY_STATUSES
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.contributions import TIME_ENTRY_EVENTS, counts, entry_date, iso_week
from readmodels.dashboards import person_name
from readmodels.projection import (
    Projection,
    TableSet,
    conflict_insert,
    insert_rows,
    key_by,
    upsert,
)

STATUS_COLUMNS = {status: f"{status}_entries" for status in ENTRY_STATUSES}
COUNTED_COLUMNS = (*STATUS_COLUMNS.values(), "hundredths")


def week_status(entries_by_status: Mapping[str, int]) -> str:
    """The one status all the week's entries share, else mixed."""
    present = [status for status in ENTRY_STATUSES if entries_by_status.get(status, 0) > 0]
    return present[0] if len(present) == 1 else "mixed"


def on_person(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    person_id = uuid.UUID(event.data["person_id"])
    name = person_name(event.data)
    upsert(conn, t.timesheet_weeks__people, {"person_id": person_id, "name": name}, ("person_id",))
    weeks = t.timesheet_weeks
    conn.execute(update(weeks).where(weeks.c.person_id == person_id).values(person_name=name))
    conn.execute(update(weeks).where(weeks.c.acted_by == person_id).values(acted_by_name=name))


def on_timesheet_acted(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    data = event.data
    person_id = uuid.UUID(data["person_id"])
    action = {
        "last_action": data["action"],
        "acted_by": uuid.UUID(data["actor_id"]) if data["actor_id"] else None,
        "reason": data["reason"],
    }
    upsert(
        conn,
        t.timesheet_weeks__actions,
        {"person_id": person_id, "week": data["week"]} | action,
        ("person_id", "week"),
    )
    weeks = t.timesheet_weeks
    conn.execute(
        update(weeks)
        .where(weeks.c.person_id == person_id, weeks.c.week == data["week"])
        .values(action | {"acted_by_name": _name(conn, t, action["acted_by"])})
    )


def _name(conn: Connection, t: TableSet, person_id: uuid.UUID | None) -> str | None:
    if person_id is None:
        return None
    people = t.timesheet_weeks__people
    name: str = conn.execute(
        select(people.c.name).where(people.c.person_id == person_id)
    ).scalar_one()
    return name


class WeekChanges:
    """Folds entry changes into per-week differences (entries by status, counted hours), then
    reads the touched weeks' rows, deletes those left with no entries and writes the others
    in one statement."""

    def __init__(self) -> None:
        self.deltas: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}

    def add(self, event: RecordedEvent) -> None:
        person_id = uuid.UUID(event.data["person_id"])
        for snapshot, sign in ((event.data["before"], -1), (event.data["after"], 1)):
            if snapshot is None:
                continue
            week, week_start = iso_week(entry_date(snapshot))
            delta = self.deltas.setdefault((person_id, week), {"week_start": week_start})
            column = STATUS_COLUMNS[snapshot["status"]]
            delta[column] = delta.get(column, 0) + sign
            if counts(snapshot):
                delta["hundredths"] = (
                    delta.get("hundredths", 0) + sign * snapshot["hours_hundredths"]
                )

    def flush(self, conn: Connection, t: TableSet) -> None:
        if not self.deltas:
            return
        weeks = t.timesheet_weeks
        current = {
            (row.person_id, row.week): row
            for row in conn.execute(
                _counts_query(weeks), {"pairs": [tuple(pair) for pair in self.deltas]}
            )
        }
        rows, emptied = [], []
        for (person_id, week), delta in self.deltas.items():
            row = current.get((person_id, week))
            counted = {
                column: (getattr(row, column) if row else 0) + delta.get(column, 0)
                for column in COUNTED_COLUMNS
            }
            if sum(counted[column] for column in STATUS_COLUMNS.values()) == 0:
                emptied.append((person_id, week))
                continue
            status = week_status({s: counted[column] for s, column in STATUS_COLUMNS.items()})
            rows.append(
                {"person_id": person_id, "week": week, "week_start": delta["week_start"]}
                | counted
                | {"status": status}
            )
        if emptied:
            conn.execute(delete(weeks).where(_week_in(weeks, emptied)))
        if rows:
            statement = _write_weeks(
                conn.dialect.name, weeks, t.timesheet_weeks__people, t.timesheet_weeks__actions
            )
            insert_rows(conn, statement, weeks, rows)


def _week_in(weeks: Table, pairs: Any) -> ColumnElement[bool]:
    return tuple_(weeks.c.person_id, weeks.c.week).in_(pairs)


@functools.lru_cache(maxsize=16)  # live tables, and the shadows of recent rebuilds
def _counts_query(weeks: Table) -> Select[Any]:
    return select(weeks.c.person_id, weeks.c.week, *(weeks.c[c] for c in COUNTED_COLUMNS)).where(
        _week_in(weeks, bindparam("pairs", expanding=True))
    )


@functools.lru_cache(maxsize=16)  # live tables, and the shadows of recent rebuilds
def _write_weeks(dialect_name: str, weeks: Table, people: Table, actions: Table) -> Any:
    """Insert week rows, or set the counts and status of those there. A new row copies the
    person's name and the week's last action (and its actor's name) from the lookups; an
    existing row has them already, kept up to date by on_person and on_timesheet_acted."""
    given = {
        name: bindparam(name, type_=weeks.c[name].type)
        for name in ("person_id", "week", "week_start", *COUNTED_COLUMNS, "status")
    }
    person_id, week = given["person_id"], given["week"]
    action = actions.c.person_id == person_id, actions.c.week == week
    actor = people.alias("actor")
    statement = conflict_insert(dialect_name, weeks).values(
        **given,
        person_name=select(people.c.name).where(people.c.person_id == person_id).scalar_subquery(),
        last_action=select(actions.c.last_action).where(*action).scalar_subquery(),
        acted_by=select(actions.c.acted_by).where(*action).scalar_subquery(),
        acted_by_name=select(actor.c.name)
        .join(actions, actions.c.acted_by == actor.c.person_id)
        .where(*action)
        .scalar_subquery(),
        reason=select(actions.c.reason).where(*action).scalar_subquery(),
    )
    upsert = statement.on_conflict_do_update(
        index_elements=["person_id", "week"],
        set_={name: statement.excluded[name] for name in (*COUNTED_COLUMNS, "status")},
    )
    return upsert


projection = Projection(
    name="timesheets",
    version=1,
    tables=(
        tables.timesheet_weeks,
        tables.timesheet_weeks__people,
        tables.timesheet_weeks__actions,
    ),
    handlers={
        events.PersonRegistered: on_person,
        events.PersonUpdated: on_person,
        events.TimesheetActed: on_timesheet_acted,
    },
    key=key_by("person_id"),
    fold=WeekChanges,
    folded=TIME_ENTRY_EVENTS,
)

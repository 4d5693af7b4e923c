"""timesheets: one row per person and ISO week, with its entries by status, the week's
status, and the last action on the week as a whole (who submitted, approved or rejected it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select, update

from domain import events
from domain.model import ENTRY_STATUSES
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.contributions import TIME_ENTRY_EVENTS, counts, entry_date, iso_week
from readmodels.dashboards import person_name
from readmodels.projection import Projection, TableSet, key_by, upsert

STATUS_COLUMNS = {status: f"{status}_entries" for status in ENTRY_STATUSES}


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
    rewrites each touched week's row from its current one."""

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
        people = {person_id for person_id, _week in self.deltas}
        current = {
            (row.person_id, row.week): dict(row._mapping)
            for row in conn.execute(select(weeks).where(weeks.c.person_id.in_(people)))
            if (row.person_id, row.week) in self.deltas
        }
        lookup = t.timesheet_weeks__people
        names = dict(
            conn.execute(
                select(lookup.c.person_id, lookup.c.name).where(lookup.c.person_id.in_(people))
            ).all()
        )
        for (person_id, week), delta in self.deltas.items():
            row = current.get((person_id, week)) or self._new_row(conn, t, person_id, week, delta)
            for column in (*STATUS_COLUMNS.values(), "hundredths"):
                row[column] += delta.get(column, 0)
            if sum(row[column] for column in STATUS_COLUMNS.values()) == 0:
                conn.execute(
                    delete(weeks).where(weeks.c.person_id == person_id, weeks.c.week == week)
                )
                continue
            row["status"] = week_status(
                {status: row[column] for status, column in STATUS_COLUMNS.items()}
            )
            row["person_name"] = names[person_id]
            upsert(conn, weeks, row, ("person_id", "week"))

    @staticmethod
    def _new_row(
        conn: Connection, t: TableSet, person_id: uuid.UUID, week: str, delta: dict[str, Any]
    ) -> dict[str, Any]:
        actions = t.timesheet_weeks__actions
        action = conn.execute(
            select(actions.c.last_action, actions.c.acted_by, actions.c.reason).where(
                actions.c.person_id == person_id, actions.c.week == week
            )
        ).one_or_none()
        acted_by = action.acted_by if action else None
        return {
            "person_id": person_id,
            "week": week,
            "week_start": delta["week_start"],
            "hundredths": 0,
            **dict.fromkeys(STATUS_COLUMNS.values(), 0),
            "last_action": action.last_action if action else None,
            "acted_by": acted_by,
            "acted_by_name": _name(conn, t, acted_by),
            "reason": action.reason if action else None,
        }


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

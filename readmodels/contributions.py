"""What one time entry adds to totals, from the before/after snapshots its events carry.

Only submitted and approved entries count; rejected and deleted ones count in no total.
Hours are all counted hours; billable hours and billed amounts come from billable entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete
from sqlalchemy.dialects import postgresql, sqlite

COUNTED = ("submitted", "approved")


@dataclass(frozen=True)
class Contribution:
    hundredths: int = 0
    billable_hundredths: int = 0
    billed_cents: int = 0
    entries: int = 0
    billable_entries: int = 0

    def negated(self) -> Contribution:
        return Contribution(
            -self.hundredths,
            -self.billable_hundredths,
            -self.billed_cents,
            -self.entries,
            -self.billable_entries,
        )

    @property
    def empty(self) -> bool:
        return self == Contribution()


def contribution(snapshot: Mapping[str, Any] | None) -> Contribution:
    if snapshot is None or snapshot["status"] not in COUNTED:
        return Contribution()
    billable = bool(snapshot["billable"])
    return Contribution(
        hundredths=snapshot["hours_hundredths"],
        billable_hundredths=snapshot["hours_hundredths"] if billable else 0,
        billed_cents=snapshot["amount_cents"] if billable else 0,
        entries=1,
        billable_entries=1 if billable else 0,
    )


def entry_date(snapshot: Mapping[str, Any]) -> dt.date:
    return dt.date.fromisoformat(snapshot["date"])


def iso_week(day: dt.date) -> tuple[str, dt.date]:
    """The ISO week label (2026-W48) and its Monday."""
    year, week, weekday = day.isocalendar()
    return f"{year}-W{week:02d}", day - dt.timedelta(days=weekday - 1)


def month_of(day: dt.date) -> tuple[str, dt.date]:
    return f"{day.year}-{day.month:02d}", day.replace(day=1)


def changes(event_data: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Contribution]]:
    """(snapshot, signed contribution) pairs: take away the before, add the after."""
    pairs = []
    before, after = event_data.get("before"), event_data.get("after")
    if before is not None and not contribution(before).empty:
        pairs.append((before, contribution(before).negated()))
    if after is not None and not contribution(after).empty:
        pairs.append((after, contribution(after)))
    return pairs


def add_to_bucket(
    conn: Connection,
    table: Table,
    key: dict[str, Any],
    fixed: dict[str, Any],
    increments: dict[str, int],
    counter: str,
) -> None:
    """Add increments to the bucket row (creating it); drop it when its counter reaches 0."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(key | fixed | increments)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: table.c[name] + statement.excluded[name] for name in increments}
            | {name: statement.excluded[name] for name in fixed},
        )
    )
    conn.execute(
        delete(table).where(
            *(table.c[name] == value for name, value in key.items()), table.c[counter] <= 0
        )
    )

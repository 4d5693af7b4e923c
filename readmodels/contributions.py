"""What one time entry adds to totals, from the before/after snapshots its events carry.

Draft, submitted and approved entries count; rejected and deleted ones count in no total.
Hours and costs are those of all counted entries; billable hours and billed amounts (the sum
of billable_amount) come from billable entries.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, Table, bindparam, delete, select, tuple_

from domain import events
from domain.model import COUNTED_STATUSES
from domain.store.event_log import RecordedEvent
from readmodels.projection import TableSet, conflict_insert, insert_rows

TIME_ENTRY_EVENTS: frozenset[type[events.Event]] = frozenset(
    {
        events.TimeLogged,
        events.TimeEntryAmended,
        events.TimeEntryDeleted,
        events.TimeEntrySubmitted,
        events.TimeEntryApproved,
        events.TimeEntryRejected,
    }
)


@dataclass(frozen=True)
class Contribution:
    hundredths: int = 0
    billable_hundredths: int = 0
    billed_cents: int = 0
    entries: int = 0
    billable_entries: int = 0
    cost_cents: int = 0

    def negated(self) -> Contribution:
        return Contribution(
            -self.hundredths,
            -self.billable_hundredths,
            -self.billed_cents,
            -self.entries,
            -self.billable_entries,
            -self.cost_cents,
        )


def counts(snapshot: Mapping[str, Any] | None) -> bool:
    return snapshot is not None and snapshot["status"] in COUNTED_STATUSES


def contribution(snapshot: Mapping[str, Any]) -> Contribution:
    """What a snapshot that counts adds to totals."""
    billable = bool(snapshot["billable"])
    return Contribution(
        hundredths=snapshot["hours_hundredths"],
        billable_hundredths=snapshot["hours_hundredths"] if billable else 0,
        billed_cents=snapshot["amount_cents"] if billable else 0,
        entries=1,
        billable_entries=1 if billable else 0,
        cost_cents=snapshot["cost_cents"],
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
    pairs: list[tuple[Mapping[str, Any], Contribution]] = []
    before, after = event_data.get("before"), event_data.get("after")
    if before is not None and counts(before):
        pairs.append((before, contribution(before).negated()))
    if after is not None and counts(after):
        pairs.append((after, contribution(after)))
    return pairs


@dataclass(frozen=True)
class Buckets:
    """How a report projection files entry changes: which table, whose rows (owner), which
    period, which sums, and which values (names, capacity, budget) each row copies from the
    lookup table keyed by its owner (`copied`: column to the lookup's column)."""

    table: str
    owner: str
    period: Callable[[dt.date], tuple[str, dt.date]]
    period_columns: tuple[str, str]
    sums: Callable[[Contribution], dict[str, int]]
    counter: str
    lookup: str
    copied: tuple[tuple[str, str], ...]


class BucketFold:
    """Folds entry changes into per-bucket sums, then adds them to the rows in one statement
    and drops the rows whose counter reaches zero in another."""

    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets
        self.sums: dict[tuple[Any, str], dict[str, Any]] = {}
        self.counter_fell = False  # only then can a row's counter have reached zero

    def add(self, event: RecordedEvent) -> None:
        owner = uuid.UUID(event.data[self.buckets.owner])
        for snapshot, change in changes(event.data):
            label, start = self.buckets.period(entry_date(snapshot))
            bucket = self.sums.setdefault((owner, label), {"start": start})
            for name, value in self.buckets.sums(change).items():
                bucket[name] = bucket.get(name, 0) + value
                if name == self.buckets.counter and value < 0:
                    self.counter_fell = True

    def flush(self, conn: Connection, t: TableSet) -> None:
        if not self.sums:
            return
        b = self.buckets
        table = getattr(t, b.table)
        label_column, start_column = b.period_columns
        rows = [
            {b.owner: owner, label_column: label, start_column: bucket["start"]}
            | {name: bucket.get(name, 0) for name in sum_names(b)}
            for (owner, label), bucket in self.sums.items()
        ]
        statement = _add_to_buckets(conn.dialect.name, table, getattr(t, b.lookup), b)
        insert_rows(conn, statement, table, rows)
        if self.counter_fell:
            conn.execute(
                delete(table).where(
                    tuple_(table.c[b.owner], table.c[label_column]).in_(list(self.sums)),
                    table.c[b.counter] <= 0,
                )
            )


def sum_names(buckets: Buckets) -> list[str]:
    return list(buckets.sums(Contribution()))


@functools.lru_cache(maxsize=64)  # live tables, and the shadows of recent rebuilds
def _add_to_buckets(dialect_name: str, table: Table, lookup: Table, buckets: Buckets) -> Insert:
    """Insert bucket rows, or add their sums to the rows there; either way the copied values
    are read from the lookup again (a NULL, refused, when the lookup has no row). Built once
    per table: it runs in every batch."""
    label_column, start_column = buckets.period_columns
    given = {
        name: bindparam(name, type_=table.c[name].type)
        for name in (buckets.owner, label_column, start_column, *sum_names(buckets))
    }
    owner = lookup.c[buckets.owner] == given[buckets.owner]
    statement = conflict_insert(dialect_name, table).values(
        **given,
        **{
            name: select(lookup.c[source]).where(owner).scalar_subquery()
            for name, source in buckets.copied
        },
    )
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[buckets.owner, label_column],
        set_={name: table.c[name] + statement.excluded[name] for name in sum_names(buckets)}
        | {name: statement.excluded[name] for name, _source in buckets.copied},
    )
    return upsert

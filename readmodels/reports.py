"""The report projections: utilization (person x ISO week), client_revenue (client x month)
and budget_burn (project x ISO week). Each files every entry change's difference into its
bucket row; runs of entry changes are summed in memory first (see contributions.BucketFold)."""

from __future__ import annotations

import uuid
from functools import partial

from sqlalchemy import Connection, update

from domain import events
from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.contributions import (
    TIME_ENTRY_EVENTS,
    BucketFold,
    Buckets,
    Contribution,
    iso_week,
    month_of,
)
from readmodels.dashboards import person_name
from readmodels.projection import Projection, TableSet, key_by, upsert


def on_person(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    person_id = uuid.UUID(event.data["person_id"])
    name, capacity = person_name(event.data), event.data["weekly_capacity_hundredths"]
    upsert(
        conn,
        t.utilization__people,
        {"person_id": person_id, "name": name, "capacity_hundredths": capacity},
        ("person_id",),
    )
    conn.execute(
        update(t.utilization)
        .where(t.utilization.c.person_id == person_id)
        .values(person_name=name, capacity_hundredths=capacity)
    )


UTILIZATION = Buckets(
    table="utilization",
    owner="person_id",
    period=iso_week,
    period_columns=("week", "week_start"),
    sums=lambda c: {
        "hundredths": c.hundredths,
        "billable_hundredths": c.billable_hundredths,
        "entries": c.entries,
    },
    counter="entries",
    lookup="utilization__people",
    copied=(("person_name", "name"), ("capacity_hundredths", "capacity_hundredths")),
)

utilization = Projection(
    name="utilization",
    version=1,
    tables=(tables.utilization, tables.utilization__people),
    handlers={events.PersonRegistered: on_person, events.PersonUpdated: on_person},
    key=key_by("person_id"),
    fold=partial(BucketFold, UTILIZATION),
    folded=TIME_ENTRY_EVENTS,
)


def on_client(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    client_id = uuid.UUID(event.data["client_id"])
    upsert(
        conn,
        t.client_revenue__clients,
        {"client_id": client_id, "name": event.data["name"]},
        ("client_id",),
    )
    conn.execute(
        update(t.client_revenue)
        .where(t.client_revenue.c.client_id == client_id)
        .values(client_name=event.data["name"])
    )


def _revenue_sums(c: Contribution) -> dict[str, int]:
    return {
        "billable_hundredths": c.billable_hundredths,
        "billed_cents": c.billed_cents,
        "cost_cents": c.cost_cents,
        "entries": c.entries,
    }


CLIENT_REVENUE = Buckets(
    table="client_revenue",
    owner="client_id",
    period=month_of,
    period_columns=("month", "month_start"),
    sums=_revenue_sums,
    counter="entries",
    lookup="client_revenue__clients",
    copied=(("client_name", "name"),),
)

client_revenue = Projection(
    name="client_revenue",
    version=2,
    tables=(tables.client_revenue, tables.client_revenue__clients),
    handlers={events.ClientRegistered: on_client, events.ClientRenamed: on_client},
    key=key_by("client_id"),
    fold=partial(BucketFold, CLIENT_REVENUE),
    folded=TIME_ENTRY_EVENTS,
)


def on_project_budget(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    project_id = uuid.UUID(event.data["project_id"])
    budget = event.data["budget_cents"]
    upsert(
        conn,
        t.budget_burn__projects,
        {"project_id": project_id, "budget_cents": budget},
        ("project_id",),
    )
    conn.execute(
        update(t.budget_burn)
        .where(t.budget_burn.c.project_id == project_id)
        .values(budget_cents=budget)
    )


BUDGET_BURN = Buckets(
    table="budget_burn",
    owner="project_id",
    period=iso_week,
    period_columns=("week", "week_start"),
    sums=lambda c: {
        "hundredths": c.hundredths,
        "billed_cents": c.billed_cents,
        "entries": c.entries,
    },
    counter="entries",
    lookup="budget_burn__projects",
    copied=(("budget_cents", "budget_cents"),),
)

budget_burn = Projection(
    name="budget_burn",
    version=1,
    tables=(tables.budget_burn, tables.budget_burn__projects),
    handlers={events.ProjectCreated: on_project_budget, events.ProjectUpdated: on_project_budget},
    key=key_by("project_id"),
    fold=partial(BucketFold, BUDGET_BURN),
    folded=TIME_ENTRY_EVENTS,
)


def on_project_name(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    project_id = uuid.UUID(event.data["project_id"])
    name = event.data["name"]
    upsert(
        conn,
        t.project_profitability__projects,
        {"project_id": project_id, "name": name},
        ("project_id",),
    )
    conn.execute(
        update(t.project_profitability)
        .where(t.project_profitability.c.project_id == project_id)
        .values(project_name=name)
    )


PROJECT_PROFITABILITY = Buckets(
    table="project_profitability",
    owner="project_id",
    period=month_of,
    period_columns=("month", "month_start"),
    sums=lambda c: {
        "hundredths": c.hundredths,
        "billed_cents": c.billed_cents,
        "cost_cents": c.cost_cents,
        "entries": c.entries,
    },
    counter="entries",
    lookup="project_profitability__projects",
    copied=(("project_name", "name"),),
)

project_profitability = Projection(
    name="project_profitability",
    version=1,
    tables=(tables.project_profitability, tables.project_profitability__projects),
    handlers={events.ProjectCreated: on_project_name, events.ProjectUpdated: on_project_name},
    key=key_by("project_id"),
    fold=partial(BucketFold, PROJECT_PROFITABILITY),
    folded=TIME_ENTRY_EVENTS,
)

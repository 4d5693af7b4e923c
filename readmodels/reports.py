"""The report projections: utilization (person x ISO week), client_revenue (client x month)
and budget_burn (project x ISO week), each kept up by adding each entry change's difference
to its bucket."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, select, update

from domain.store.event_log import RecordedEvent
from readmodels import tables
from readmodels.contributions import add_to_bucket, changes, entry_date, iso_week, month_of
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


def on_entry_for_utilization(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    person_id = uuid.UUID(event.data["person_id"])
    pairs = changes(event.data)
    if not pairs:
        return
    person = conn.execute(
        select(t.utilization__people).where(t.utilization__people.c.person_id == person_id)
    ).one()
    for snapshot, delta in pairs:
        week, week_start = iso_week(entry_date(snapshot))
        add_to_bucket(
            conn,
            t.utilization,
            key={"person_id": person_id, "week": week},
            fixed={
                "week_start": week_start,
                "person_name": person.name,
                "capacity_hundredths": person.capacity_hundredths,
            },
            increments={
                "hundredths": delta.hundredths,
                "billable_hundredths": delta.billable_hundredths,
                "entries": delta.entries,
            },
            counter="entries",
        )


utilization = Projection(
    name="utilization",
    version=1,
    tables=(tables.utilization, tables.utilization__people),
    handlers={
        "PersonRegistered": on_person,
        "PersonUpdated": on_person,
        **dict.fromkeys(
            (
                "TimeLogged",
                "TimeEntryAmended",
                "TimeEntryDeleted",
                "TimeEntryApproved",
                "TimeEntryRejected",
            ),
            on_entry_for_utilization,
        ),
    },
    key=key_by("person_id"),
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


def on_entry_for_revenue(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    client_id = uuid.UUID(event.data["client_id"])
    pairs = [(s, d) for s, d in changes(event.data) if d.billable_entries]
    if not pairs:
        return
    name = conn.execute(
        select(t.client_revenue__clients.c.name).where(
            t.client_revenue__clients.c.client_id == client_id
        )
    ).scalar_one()
    for snapshot, delta in pairs:
        month, month_start = month_of(entry_date(snapshot))
        add_to_bucket(
            conn,
            t.client_revenue,
            key={"client_id": client_id, "month": month},
            fixed={"month_start": month_start, "client_name": name},
            increments={
                "billable_hundredths": delta.billable_hundredths,
                "billed_cents": delta.billed_cents,
                "entries": delta.billable_entries,
            },
            counter="entries",
        )


client_revenue = Projection(
    name="client_revenue",
    version=1,
    tables=(tables.client_revenue, tables.client_revenue__clients),
    handlers={
        "ClientRegistered": on_client,
        "ClientRenamed": on_client,
        **dict.fromkeys(
            (
                "TimeLogged",
                "TimeEntryAmended",
                "TimeEntryDeleted",
                "TimeEntryApproved",
                "TimeEntryRejected",
            ),
            on_entry_for_revenue,
        ),
    },
    key=key_by("client_id"),
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


def on_entry_for_burn(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    project_id = uuid.UUID(event.data["project_id"])
    pairs = changes(event.data)
    if not pairs:
        return
    budget = conn.execute(
        select(t.budget_burn__projects.c.budget_cents).where(
            t.budget_burn__projects.c.project_id == project_id
        )
    ).scalar_one()
    for snapshot, delta in pairs:
        week, week_start = iso_week(entry_date(snapshot))
        add_to_bucket(
            conn,
            t.budget_burn,
            key={"project_id": project_id, "week": week},
            fixed={"week_start": week_start, "budget_cents": budget},
            increments={
                "hundredths": delta.hundredths,
                "billed_cents": delta.billed_cents,
                "entries": delta.entries,
            },
            counter="entries",
        )


budget_burn = Projection(
    name="budget_burn",
    version=1,
    tables=(tables.budget_burn, tables.budget_burn__projects),
    handlers={
        "ProjectCreated": on_project_budget,
        "ProjectUpdated": on_project_budget,
        **dict.fromkeys(
            (
                "TimeLogged",
                "TimeEntryAmended",
                "TimeEntryDeleted",
                "TimeEntryApproved",
                "TimeEntryRejected",
            ),
            on_entry_for_burn,
        ),
    },
    key=key_by("project_id"),
)

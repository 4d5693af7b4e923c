"""A large, realistic event log, built from the real event classes and bulk-loaded."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, insert

from domain import events
from domain.events import Event
from domain.money import entry_amount_cents
from domain.store.tables import event_log

COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "data",
    "metadata",
    "recorded_at",
)


def generate(total: int, seed: int = 11) -> Iterator[tuple[Event, str, uuid.UUID]]:
    """(event, aggregate type, aggregate id) in log order: the organisation, then time."""
    rng = random.Random(seed)
    clients = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(max(total // 10_000, 10))]
    people = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(max(total // 1_000, 20))]
    projects: list[tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], list[uuid.UUID]]] = []
    emitted = 0
    for client_id in clients:
        yield (
            events.ClientRegistered(client_id=client_id, name=f"Client {emitted}"),
            "Client",
            client_id,
        )
        emitted += 1
    for index, person_id in enumerate(people):
        yield (
            events.PersonRegistered(
                person_id=person_id,
                first_name="P",
                last_name=f"{index}",
                email=f"p{index}@x",
                role="manager" if index % 20 == 0 else "member",
                weekly_capacity_hundredths=4000,
                default_bill_rate_cents=rng.choice([None, 9000, 12000]),
                cost_rate_cents=None,
            ),
            "Person",
            person_id,
        )
        emitted += 1
    managers = people[::20]
    for index in range(max(total // 2_000, 10)):
        project_id = uuid.UUID(int=rng.getrandbits(128))
        client_id = rng.choice(clients)
        yield (
            events.ProjectCreated(
                project_id=project_id,
                name=f"Project {index}",
                client_id=client_id,
                manager_id=rng.choice(managers),
                start_date=dt.date(2025, 1, 1),
                end_date=None,
                budget_cents=rng.choice([0, 5_000_000, 20_000_000]),
                default_bill_rate_cents=10000,
            ),
            "Project",
            project_id,
        )
        team = rng.sample(people, 4)
        for person_id in team:
            yield (
                events.MemberAdded(
                    project_id=project_id,
                    person_id=person_id,
                    role="Dev",
                    bill_rate_cents=rng.choice([None, 15000]),
                ),
                "Project",
                project_id,
            )
        tasks = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(3)]
        for task_id in tasks:
            yield (
                events.TaskAdded(
                    project_id=project_id, task_id=task_id, name="Task", estimate_hundredths=None
                ),
                "Project",
                project_id,
            )
        emitted += 8
        projects.append((project_id, client_id, team, tasks))
    open_entries: list[tuple[uuid.UUID, Any, dict[str, Any]]] = []
    while emitted < total:
        roll = rng.random()
        if roll < 0.7 or not open_entries:
            project_id, client_id, team, tasks = rng.choice(projects)
            entry_id = uuid.uuid4()
            hours = rng.choice([100, 250, 400, 750, 800])
            after = {
                "date": (dt.date(2025, 1, 6) + dt.timedelta(days=rng.randint(0, 600))).isoformat(),
                "hours_hundredths": hours,
                "billable": rng.random() < 0.8,
                "rate_cents": 12000,
                "amount_cents": entry_amount_cents(hours, 12000),
                "cost_rate_cents": 0,
                "cost_cents": 0,
                "status": "submitted",
                "task_id": str(rng.choice(tasks)),
                "notes": None,
            }
            ids = (entry_id, project_id, rng.choice(team), client_id)
            open_entries.append((entry_id, ids, after))
            yield _entry(events.TimeLogged, ids, None, after), "TimeEntry", entry_id
        else:
            index = rng.randrange(len(open_entries))
            entry_id, ids, before = open_entries[index]
            kind = rng.random()
            if kind < 0.5:
                after = before | {"status": "approved"}
                open_entries.pop(index)
                yield _entry(events.TimeEntryApproved, ids, before, after), "TimeEntry", entry_id
            elif kind < 0.75:
                hours = rng.choice([50, 300, 600])
                after = before | {
                    "hours_hundredths": hours,
                    "status": "submitted",
                    "amount_cents": entry_amount_cents(hours, 12000),
                }
                open_entries[index] = (entry_id, ids, after)
                yield _entry(events.TimeEntryAmended, ids, before, after), "TimeEntry", entry_id
            elif kind < 0.9:
                after = before | {"status": "rejected"}
                open_entries[index] = (entry_id, ids, after)
                yield _entry(events.TimeEntryRejected, ids, before, after), "TimeEntry", entry_id
            else:
                open_entries.pop(index)
                yield _entry(events.TimeEntryDeleted, ids, before, None), "TimeEntry", entry_id
        emitted += 1


def _entry(
    kind: type[events.TimeEntryEvent],
    ids: tuple[uuid.UUID, ...],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> Event:
    entry_id, project_id, person_id, client_id = ids
    return kind(
        entry_id=entry_id,
        project_id=project_id,
        person_id=person_id,
        client_id=client_id,
        before=before,
        after=after,
    )


def rows(total: int) -> Iterator[tuple[Any, ...]]:
    versions: dict[uuid.UUID, int] = {}
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for event, aggregate_type, aggregate_id in generate(total):
        versions[aggregate_id] = versions.get(aggregate_id, 0) + 1
        yield (
            uuid.uuid4(),
            event.event_type,
            event.schema_version,
            aggregate_type,
            aggregate_id,
            versions[aggregate_id],
            event.payload(),
            {"actor": "bench"},
            at,
        )


def load(engine: Engine, total: int) -> int:
    """Append `total` synthetic events; COPY on PostgreSQL, batched inserts on SQLite."""
    count = 0
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY event_log ({', '.join(COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in rows(total):
                    copy.write_row((*row[:6], json.dumps(row[6]), json.dumps(row[7]), row[8]))
                    count += 1
            raw.commit()
        finally:
            raw.close()
        return count
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in rows(total):
            batch.append(dict(zip(COLUMNS, row, strict=True)))
            if len(batch) == 5000:
                conn.execute(insert(event_log), batch)
                count += len(batch)
                batch.clear()
        if batch:
            conn.execute(insert(event_log), batch)
            count += len(batch)
    return count

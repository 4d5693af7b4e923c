"""A large firm, generated once as one history and bulk-loaded: the event log and the write
tables from the same events, so the read models rebuilt from the log verify clean.

Two years of a consulting firm: people log time on the weekdays of their projects' windows;
half the entries are approved the Monday after their week, some rejected and amended back to
submitted, some amended or deleted the next day; clients, projects and people are renamed
now and then; projects whose window ended are closed (their tasks completed first). The
events are the real event classes, their payloads what the command handlers would append.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import json
import math
import multiprocessing
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from bench.world import BENCH_WRITE_DAYS, BENCH_WRITES_FROM, fresh_databases
from domain import commands, events
from domain.model import DAY_LIMIT_HUNDREDTHS, Role
from domain.money import entry_amount_cents
from domain.settings import Settings
from domain.store.db import Databases, create_database_if_missing
from domain.store.tokens import issue_token
from readmodels.catchup.loop import catch_up
from readmodels.rebuild import rebuild
from readmodels.registry import PROJECTIONS
from service.commands import CommandService
from workers.celery_app import make_celery

ROOT = Path(__file__).resolve().parents[1]
# Bump when the generated history changes shape: a cached firm of another format is rebuilt.
FORMAT = 3
FIRST_DAY = dt.date(2025, 1, 6)  # a Monday
ADMIN_EMAIL = "admin@bench.tally"
ENTRY_HOURS = (25, 50, 75, 100, 150)  # hundredths; about 6 hours a day at 8 entries


@dataclass(frozen=True)
class Scale:
    name: str
    entries: int  # time entries logged (a few are deleted again)
    people: int
    clients: int
    projects: int
    large_projects: int
    large_size: int  # entries of each large project
    smallest: int  # entries of the smallest project
    days: int = 730
    seed: int = 13

    def key(self) -> str:
        """The cache key: these parameters, the generator's format and the schema's
        migrations (a firm loaded under an older schema is not reused)."""
        migrations = sorted(p.name for p in (ROOT / "migrations").glob("*/versions/*.py"))
        raw = json.dumps([asdict(self), FORMAT, migrations], sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


SCALES = {
    "full": Scale("full", 2_000_000, 500, 100, 2_000, 3, 100_000, 300),
    "small": Scale("small", 100_000, 60, 20, 200, 3, 10_000, 100),
    "tiny": Scale("tiny", 3_000, 12, 3, 10, 1, 1_000, 50, days=365),
}


@dataclass
class Project:
    id: uuid.UUID
    name: str
    client_id: uuid.UUID
    manager_id: uuid.UUID
    start: dt.date
    end: dt.date  # the last day time is logged
    closes: bool
    per_day: float  # entries per weekday of the window
    budget_cents: int
    default_bill_rate_cents: int | None
    members: dict[uuid.UUID, tuple[str, int | None]] = field(default_factory=dict)
    tasks: dict[uuid.UUID, tuple[str, int | None, bool]] = field(default_factory=dict)
    status: str = "open"
    version: int = 0
    owed: float = 0.0  # entries owed, accumulated per weekday


@dataclass
class Entry:
    id: uuid.UUID
    project: Project
    person_id: uuid.UUID
    client_id: uuid.UUID
    snapshot: dict[str, Any]
    version: int = 1
    deleted: bool = False


@dataclass
class History:
    """What the generator leaves behind besides the events: the write side's final state."""

    clients: dict[uuid.UUID, list[Any]] = field(default_factory=dict)  # id -> [name, version]
    people: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    projects: list[Project] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    admin_id: uuid.UUID | None = None
    events: int = 0


Logged = tuple[events.Event, str, uuid.UUID, int, dt.datetime, str]


class Generator:
    def __init__(self, scale: Scale) -> None:
        self.scale = scale
        self.rng = random.Random(scale.seed)
        self.history = History()
        self.last_day = FIRST_DAY + dt.timedelta(days=scale.days - 1)
        self.hours: dict[tuple[uuid.UUID, dt.date], int] = {}
        self.due: dict[dt.date, list[tuple[str, Entry]]] = {}

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def events(self) -> Iterator[Logged]:
        """(event, aggregate type, aggregate id, aggregate version, recorded at, command)."""
        yield from self._organisation()
        starting: dict[dt.date, list[Project]] = {}
        closing: dict[dt.date, list[Project]] = {}
        for project in self.history.projects:
            starting.setdefault(project.start, []).append(project)
            if project.closes:
                closing.setdefault(project.end + dt.timedelta(days=14), []).append(project)
        renames = self._renames()
        active: list[Project] = []
        for offset in range(self.scale.days):
            day = FIRST_DAY + dt.timedelta(days=offset)
            at = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
            for project in starting.get(day, []):
                yield from self._create_project(project, at)
                active.append(project)
            for kind, target in renames.get(day, []):
                yield from self._rename(kind, target, at)
            if day.weekday() < 5:
                active = [p for p in active if p.end >= day]
                for project in active:
                    yield from self._log_day(project, day, at)
            for action, entry in self.due.pop(day, []):
                yield from self._act(action, entry, day, at)
            for project in closing.get(day, []):
                yield from self._close(project, at)

    def _organisation(self) -> Iterator[Logged]:
        rng, scale, h = self.rng, self.scale, self.history
        at = dt.datetime.combine(FIRST_DAY - dt.timedelta(days=7), dt.time(8), tzinfo=dt.UTC)
        for index in range(scale.clients):
            client_id = self.uuid()
            h.clients[client_id] = [f"Client {index:03d}", 1]
            event = events.ClientRegistered(client_id=client_id, name=h.clients[client_id][0])
            yield event, "Client", client_id, 1, at, "RegisterClient"
        for index in range(scale.people + 1):
            person_id = self.uuid()
            admin = index == 0
            role = Role.ADMIN if admin else (Role.MANAGER if index % 20 == 1 else Role.MEMBER)
            person = {
                "first_name": "Bench" if admin else f"Person{index:03d}",
                "last_name": "Admin" if admin else rng.choice(LAST_NAMES),
                "email": ADMIN_EMAIL if admin else f"person{index:03d}@bench.tally",
                "role": role,
                "weekly_capacity_hundredths": rng.choice([4000, 4000, 4000, 3200, 2000]),
                "default_bill_rate_cents": rng.choice([None, 9000, 12000, 15000]),
                "cost_rate_cents": rng.choice([None, 6000, 8000]),
                "version": 1,
            }
            h.people[person_id] = person
            if admin:
                h.admin_id = person_id
            registered = {k: v for k, v in person.items() if k != "version"}
            event = events.PersonRegistered(person_id=person_id, **registered)
            yield event, "Person", person_id, 1, at, "RegisterPerson"
        self._plan_projects()

    def _plan_projects(self) -> None:
        """Sizes from `smallest` to a few large ones (a Zipf-like tail), teams chosen from the
        least loaded people, windows inside the two years."""
        rng, scale = self.rng, self.scale
        clients = list(self.history.clients)
        people = [p for p, v in self.history.people.items() if v["role"] != Role.ADMIN]
        managers = [p for p in people if self.history.people[p]["role"] == Role.MANAGER] or people
        others = scale.projects - scale.large_projects
        rest = scale.entries - scale.large_projects * scale.large_size - others * scale.smallest
        weights = [1 / (rank**0.7) for rank in range(1, others + 1)]
        total_weight = sum(weights)
        sizes = [scale.large_size] * scale.large_projects + [
            scale.smallest + int(rest * weight / total_weight) for weight in weights
        ]
        sizes[-1] += scale.entries - sum(sizes)
        per_person = scale.entries / len(people)
        load = [(0.0, rng.random(), person) for person in people]
        heapq.heapify(load)
        for index, size in enumerate(sizes):
            large = index < scale.large_projects
            if large:
                start, days = FIRST_DAY, scale.days
            else:
                days = rng.randint(min(60, scale.days), scale.days)
                start = FIRST_DAY + dt.timedelta(days=rng.randint(0, scale.days - days))
            end = start + dt.timedelta(days=days - 1)
            per_day = size / max(1, weekdays(start, end))
            # Enough people for the project's total and for its days (5 entries, about 4
            # hours, a member's share of a day).
            wanted = max(round(size / (per_person * 0.6)) + 1, math.ceil(per_day / 5))
            team_size = max(2, min(60, wanted))
            team = [heapq.heappop(load) for _ in range(min(team_size, len(load)))]
            for weight, tie, person in team:
                heapq.heappush(load, (weight + size / len(team), tie, person))
            project = Project(
                id=self.uuid(),
                name=f"Project {index:04d}",
                client_id=rng.choice(clients),
                manager_id=rng.choice(managers),
                start=start,
                end=end,
                closes=not large and end < self.last_day - dt.timedelta(days=30) and index % 2 == 1,
                per_day=per_day,
                budget_cents=int(round(size * 80 * 120 * rng.uniform(0.6, 1.4), -5)),
                default_bill_rate_cents=rng.choice([None, 10000, 14000]),
            )
            for _, _, person in team:
                rate = rng.choice([None, None, None, 15000, 18000])
                project.members[person] = (rng.choice(("Developer", "Consultant", "Lead")), rate)
            for task in range(rng.randint(3, 8)):
                estimate = rng.choice([None, 4000, 20000, 80000])
                project.tasks[self.uuid()] = (f"Task {task}", estimate, False)
            self.history.projects.append(project)

    def _create_project(self, project: Project, at: dt.datetime) -> Iterator[Logged]:
        project.version = 1
        yield (
            events.ProjectCreated(
                project_id=project.id,
                name=project.name,
                client_id=project.client_id,
                manager_id=project.manager_id,
                start_date=project.start,
                end_date=project.end,
                budget_cents=project.budget_cents,
                default_bill_rate_cents=project.default_bill_rate_cents,
            ),
            "Project",
            project.id,
            1,
            at,
            "CreateProject",
        )
        for person_id, (role, rate) in project.members.items():
            project.version += 1
            event = events.MemberAdded(
                project_id=project.id, person_id=person_id, role=role, bill_rate_cents=rate
            )
            yield event, "Project", project.id, project.version, at, "AddMember"
        for task_id, (name, estimate, _) in project.tasks.items():
            project.version += 1
            event = events.TaskAdded(
                project_id=project.id, task_id=task_id, name=name, estimate_hundredths=estimate
            )
            yield event, "Project", project.id, project.version, at, "AddTask"

    def _renames(self) -> dict[dt.date, list[tuple[str, Any]]]:
        rng, h = self.rng, self.history
        planned: dict[dt.date, list[tuple[str, Any]]] = {}

        def some_day() -> dt.date:
            return FIRST_DAY + dt.timedelta(days=rng.randint(30, self.scale.days - 1))

        for client_id in rng.sample(list(h.clients), max(1, len(h.clients) // 10)):
            planned.setdefault(some_day(), []).append(("client", client_id))
        for project in rng.sample(h.projects, max(1, len(h.projects) // 40)):
            day = project.start + dt.timedelta(days=rng.randint(1, 30))
            if day < project.end:
                planned.setdefault(day, []).append(("project", project))
        members = [p for p, v in h.people.items() if v["role"] != Role.ADMIN]
        for person_id in rng.sample(members, max(1, len(members) // 25)):
            planned.setdefault(some_day(), []).append(("person", person_id))
        return planned

    def _rename(self, kind: str, target: Any, at: dt.datetime) -> Iterator[Logged]:
        h = self.history
        if kind == "client":
            client = h.clients[target]
            client[0] = f"{client[0]} Group"
            client[1] += 1
            event: events.Event = events.ClientRenamed(client_id=target, name=client[0])
            yield event, "Client", target, client[1], at, "RenameClient"
        elif kind == "project":
            project: Project = target
            project.name = f"{project.name} (renamed)"
            project.version += 1
            event = events.ProjectUpdated(
                project_id=project.id,
                name=project.name,
                manager_id=project.manager_id,
                end_date=project.end,
                budget_cents=project.budget_cents,
                default_bill_rate_cents=project.default_bill_rate_cents,
            )
            yield event, "Project", project.id, project.version, at, "UpdateProject"
        else:
            person = h.people[target]
            person["last_name"] = f"{person['last_name']}-Renamed"
            person["version"] += 1
            event = events.PersonUpdated(
                person_id=target,
                first_name=person["first_name"],
                last_name=person["last_name"],
                weekly_capacity_hundredths=person["weekly_capacity_hundredths"],
                default_bill_rate_cents=person["default_bill_rate_cents"],
                cost_rate_cents=person["cost_rate_cents"],
            )
            yield event, "Person", target, person["version"], at, "UpdatePerson"

    def _log_day(self, project: Project, day: dt.date, at: dt.datetime) -> Iterator[Logged]:
        project.owed += project.per_day
        count = int(project.owed + 1e-9)
        project.owed -= count
        rng = self.rng
        team = list(project.members)
        tasks = list(project.tasks)
        for _ in range(count):
            hours = rng.choice(ENTRY_HOURS)
            person_id = self._someone_free(team, day, hours)
            if person_id is None:
                project.owed += 1  # the team's day is full: logged on a later day
                continue
            self.hours[(person_id, day)] = self.hours.get((person_id, day), 0) + hours
            rate = self._rate(project, person_id)
            cost_rate = self.history.people[person_id]["cost_rate_cents"] or 0
            entry = Entry(
                id=self.uuid(),
                project=project,
                person_id=person_id,
                client_id=project.client_id,
                snapshot={
                    "date": day.isoformat(),
                    "hours_hundredths": hours,
                    "billable": rng.random() < 0.8,
                    "rate_cents": rate,
                    "amount_cents": entry_amount_cents(hours, rate),
                    "cost_rate_cents": cost_rate,
                    "cost_cents": entry_amount_cents(hours, cost_rate),
                    "status": "submitted",
                    "task_id": str(rng.choice(tasks)) if rng.random() < 0.9 else None,
                    "notes": None,
                },
            )
            self.history.entries.append(entry)
            yield self._entry_event(events.TimeLogged, entry, None, entry.snapshot, at, "LogTime")
            self._plan_fate(entry, day)

    def _someone_free(self, team: list[uuid.UUID], day: dt.date, hours: int) -> uuid.UUID | None:
        """A team member with `hours` left on `day` under the daily limit (a few tries)."""
        for _ in range(8):
            person_id = self.rng.choice(team)
            if self.hours.get((person_id, day), 0) + hours <= DAY_LIMIT_HUNDREDTHS:
                return person_id
        return None

    def _rate(self, project: Project, person_id: uuid.UUID) -> int:
        for rate in (
            project.members[person_id][1],
            project.default_bill_rate_cents,
            self.history.people[person_id]["default_bill_rate_cents"],
        ):
            if rate is not None:
                return rate
        return 0

    def _plan_fate(self, entry: Entry, day: dt.date) -> None:
        roll = self.rng.random()
        next_monday = day + dt.timedelta(days=7 - day.weekday())
        if roll < 0.50:
            self._schedule(next_monday, "approve", entry)
        elif roll < 0.53:
            self._schedule(next_monday, "reject", entry)
        elif roll < 0.55:
            self._schedule(day + dt.timedelta(days=1), "amend", entry)
        elif roll < 0.555:
            self._schedule(day + dt.timedelta(days=1), "delete", entry)

    def _schedule(self, day: dt.date, action: str, entry: Entry) -> None:
        if day <= self.last_day:
            self.due.setdefault(day, []).append((action, entry))

    def _act(self, action: str, entry: Entry, day: dt.date, at: dt.datetime) -> Iterator[Logged]:
        before = entry.snapshot
        changed = dict(before)
        extra: dict[str, Any] = {}
        kind: type[events.TimeEntryEvent]
        if action == "approve":
            changed["status"] = "approved"
            kind, command = events.TimeEntryApproved, "ApproveTimeEntry"
        elif action == "reject":
            changed["status"] = "rejected"
            kind, command = events.TimeEntryRejected, "RejectTimeEntry"
            extra["reason"] = "wrong task"
            self._schedule(day + dt.timedelta(days=2), "resubmit", entry)
        elif action in ("amend", "resubmit"):
            key = (entry.person_id, dt.date.fromisoformat(before["date"]))
            hours = max(25, before["hours_hundredths"] - 25)
            self.hours[key] -= before["hours_hundredths"] - hours
            changed |= {
                "hours_hundredths": hours,
                "amount_cents": entry_amount_cents(hours, before["rate_cents"]),
                "cost_cents": entry_amount_cents(hours, before["cost_rate_cents"]),
                "status": "submitted",
                "notes": "corrected",
            }
            kind, command = events.TimeEntryAmended, "AmendTimeEntry"
            self._schedule(day + dt.timedelta(days=7 - day.weekday()), "approve", entry)
        else:
            entry.deleted = True
            kind, command = events.TimeEntryDeleted, "DeleteTimeEntry"
        after = None if entry.deleted else changed
        entry.snapshot = changed
        entry.version += 1
        yield self._entry_event(kind, entry, before, after, at, command, **extra)

    def _entry_event(
        self,
        kind: type[events.TimeEntryEvent],
        entry: Entry,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        at: dt.datetime,
        command: str,
        **extra: Any,
    ) -> Logged:
        event = kind(
            entry_id=entry.id,
            project_id=entry.project.id,
            person_id=entry.person_id,
            client_id=entry.client_id,
            before=before,
            after=after,
            **extra,
        )
        return event, "TimeEntry", entry.id, entry.version, at, command

    def _close(self, project: Project, at: dt.datetime) -> Iterator[Logged]:
        for task_id, (name, estimate, _) in project.tasks.items():
            project.tasks[task_id] = (name, estimate, True)
            project.version += 1
            event: events.Event = events.TaskCompleted(project_id=project.id, task_id=task_id)
            yield event, "Project", project.id, project.version, at, "CompleteTask"
        project.status = "closed"
        project.version += 1
        event = events.ProjectClosed(project_id=project.id)
        yield event, "Project", project.id, project.version, at, "CloseProject"


def _month_start(day: dt.date, months_back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def weekdays(first: dt.date, last: dt.date) -> int:
    return sum(1 for d in range((last - first).days + 1) if (first + dt.timedelta(d)).weekday() < 5)


LAST_NAMES = ("Smith", "Jones", "Garcia", "Müller", "Rossi", "Dubois", "Nowak", "Silva", "Kim")

EVENT_COLUMNS = (
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


def _copy(cursor: Any, table: str, columns: tuple[str, ...], rows: Any) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load(engine: Engine, scale: Scale) -> History:
    """Generate the history and COPY it: the event log while it is generated, then the write
    tables from the final state, in one transaction (foreign keys are not re-checked row by
    row: the generator wrote both sides from one history)."""
    generator = Generator(scale)
    history = generator.history
    event_ids = random.Random(scale.seed + 1)  # apart: the history is the same without them
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")

            def event_rows() -> Iterator[tuple[Any, ...]]:
                for event, aggregate_type, aggregate_id, version, at, command in generator.events():
                    metadata = {
                        "actor": str(history.admin_id),
                        "command": command,
                        "request_id": None,
                        "idempotency_key": None,
                    }
                    yield (
                        uuid.UUID(int=event_ids.getrandbits(128), version=4),
                        event.event_type,
                        event.schema_version,
                        aggregate_type,
                        aggregate_id,
                        version,
                        orjson.dumps(event.payload()).decode(),
                        orjson.dumps(metadata).decode(),
                        at,
                    )

            history.events = _copy(cursor, "event_log", EVENT_COLUMNS, event_rows())
            _copy_write_tables(cursor, history)
        raw.commit()
    finally:
        raw.close()
    return history


def _copy_write_tables(cursor: Any, h: History) -> None:
    _copy(cursor, "clients", ("id", "name", "version"), ((k, *v) for k, v in h.clients.items()))
    person_columns = (
        "first_name",
        "last_name",
        "email",
        "role",
        "weekly_capacity_hundredths",
        "default_bill_rate_cents",
        "cost_rate_cents",
        "version",
    )
    _copy(
        cursor,
        "people",
        ("id", *person_columns),
        ((k, *(v[c] for c in person_columns)) for k, v in h.people.items()),
    )
    _copy(
        cursor,
        "projects",
        (
            "id",
            "name",
            "client_id",
            "manager_id",
            "start_date",
            "end_date",
            "budget_cents",
            "default_bill_rate_cents",
            "status",
            "version",
        ),
        (
            (
                p.id,
                p.name,
                p.client_id,
                p.manager_id,
                p.start,
                p.end,
                p.budget_cents,
                p.default_bill_rate_cents,
                p.status,
                p.version,
            )
            for p in h.projects
        ),
    )
    _copy(
        cursor,
        "project_members",
        ("project_id", "person_id", "role", "bill_rate_cents"),
        ((p.id, person, *member) for p in h.projects for person, member in p.members.items()),
    )
    _copy(
        cursor,
        "tasks",
        ("id", "project_id", "name", "estimate_hundredths", "completed"),
        ((task, p.id, *values) for p in h.projects for task, values in p.tasks.items()),
    )
    _copy(
        cursor,
        "time_entries",
        (
            "id",
            "project_id",
            "person_id",
            "task_id",
            "date",
            "hours_hundredths",
            "billable",
            "rate_cents",
            "amount_cents",
            "cost_rate_cents",
            "cost_cents",
            "status",
            "notes",
            "version",
        ),
        (
            (
                e.id,
                e.project.id,
                e.person_id,
                e.snapshot["task_id"],
                e.snapshot["date"],
                e.snapshot["hours_hundredths"],
                e.snapshot["billable"],
                e.snapshot["rate_cents"],
                e.snapshot["amount_cents"],
                e.snapshot["cost_rate_cents"],
                e.snapshot["cost_cents"],
                e.snapshot["status"],
                e.snapshot["notes"],
                e.version,
            )
            for e in h.entries
            if not e.deleted
        ),
    )


FIRM_TABLE = """CREATE TABLE IF NOT EXISTS bench_firm (
    key text PRIMARY KEY, scale text NOT NULL, built_at timestamptz NOT NULL,
    summary jsonb NOT NULL)"""


def cached(engine: Engine, scale: Scale) -> dict[str, Any] | None:
    """The summary of the firm already loaded with these parameters, if it is."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('bench_firm')")).scalar() is None:
            return None
        return conn.execute(  # type: ignore[no-any-return]
            text("SELECT summary FROM bench_firm WHERE key = :key"), {"key": scale.key()}
        ).scalar()


def build(settings: Settings, databases: Databases, scale: Scale, jobs: int) -> dict[str, Any]:
    """Load the firm into fresh databases, rebuild every projection from its log, verify.

    `databases` must be freshly migrated (bench.world.fresh_databases). Raises when
    `tally projections verify` reports drift.
    """
    started = time.perf_counter()
    history = load(databases.write, scale)
    load_seconds = time.perf_counter() - started
    with databases.write.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    rebuilt = rebuild_all(databases, jobs)
    verified = verify_cli(settings)
    summary = {
        "scale": asdict(scale),
        "key": scale.key(),
        "events": history.events,
        "entries": sum(1 for e in history.entries if not e.deleted),
        "deleted_entries": sum(1 for e in history.entries if e.deleted),
        "load_seconds": round(load_seconds, 1),
        "rebuild": rebuilt,
        "verify": verified,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    with databases.write.begin() as conn:
        conn.execute(text(FIRM_TABLE))
        conn.execute(
            text("INSERT INTO bench_firm VALUES (:key, :scale, now(), CAST(:summary AS jsonb))"),
            {"key": scale.key(), "scale": scale.name, "summary": json.dumps(summary)},
        )
    return summary


def rebuild_all(databases: Databases, jobs: int) -> dict[str, Any]:
    """Every projection rebuilt from the log, `jobs` at a time (each in a process of its own),
    timed one by one and all together."""
    with databases.write.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM event_log")).scalar_one()
    urls = (databases.write_url, databases.read_url)
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with context.Pool(jobs) as pool:
        done = pool.starmap(_rebuild_one, [(*urls, name) for name in REBUILD_ORDER])
    results: dict[str, Any] = {
        "events": events,
        "jobs": jobs,
        "seconds_all": round(time.perf_counter() - started, 1),
    }
    for name, applied, seconds in sorted(done, key=lambda d: list(PROJECTIONS).index(d[0])):
        results[name] = {
            "seconds": round(seconds, 2),
            "log_events_per_s": round(events / seconds),
            "applied_events_per_s": round(applied / seconds),
        }
    with databases.read.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return results


# The slowest first, so that `jobs` processes finish close together; then any other.
SLOWEST_FIRST = (
    "time_entry_rows",
    "utilization",
    "budget_burn",
    "project_dashboards",
    "client_revenue",
)
REBUILD_ORDER = (*SLOWEST_FIRST, *(name for name in PROJECTIONS if name not in SLOWEST_FIRST))


def _rebuild_one(write_url: str, read_url: str, name: str) -> tuple[str, int, float]:
    databases = Databases(write_url, read_url)
    try:
        result = rebuild(databases, PROJECTIONS[name])
    finally:
        databases.dispose()
    return name, result.events, result.seconds


def verify_cli(settings: Settings) -> dict[str, Any]:
    """`tally projections verify` as an operator runs it; raises on drift."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "projections", "verify"],
        env=environment(settings),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tally projections verify found drift:\n{done.stdout}{done.stderr}")
    return {"clean": True, "seconds": round(time.perf_counter() - started, 1)}


def environment(settings: Settings) -> dict[str, str]:
    """The environment a `tally` process of the bench runs with."""
    return os.environ | {
        "TALLY_DATABASE_URL": settings.database_url,
        "TALLY_READ_DATABASE_URL": settings.read_database_url,
        "TALLY_BROKER_URL": settings.broker_url,
        "TALLY_HOME_DIR": str(settings.home.parent),
        "TALLY_MAX_FUTURE_DAYS": str(settings.max_future_days),
        "PYTHONPATH": str(ROOT),
    }


def keep_open_through_bench_writes(settings: Settings, databases: Databases) -> None:
    """The bench's own commands log time after the firm's history (world.BENCH_WRITES_FROM),
    where every open project of the firm has ended: move their end dates past the bench's
    last write day, through the domain (ProjectUpdated events, projected like any other).
    Done once: a reused firm has nothing left to move."""
    last_write_day = BENCH_WRITES_FROM + dt.timedelta(days=BENCH_WRITE_DAYS)
    with databases.write.connect() as conn:
        ending = (
            conn.execute(
                text(
                    "SELECT id FROM projects WHERE status = 'open'"
                    " AND end_date IS NOT NULL AND end_date < :last ORDER BY id"
                ),
                {"last": last_write_day},
            )
            .scalars()
            .all()
        )
    service = CommandService(databases, make_celery(settings).delivery, settings.policy)
    for project_id in ending:
        service.execute(
            commands.UpdateProject(project_id=project_id, changes={"end_date": last_write_day})
        )
    if ending:
        for projection in PROJECTIONS.values():
            catch_up(databases, projection, time_slice=600)


def projects_by_size(conn: Connection) -> list[tuple[uuid.UUID, int]]:
    """(project, entries) for every project, largest first."""
    rows = conn.execute(
        text(
            "SELECT p.id, count(e.id) FROM projects p LEFT JOIN time_entries e"
            " ON e.project_id = p.id AND e.date < :bench_writes"
            " GROUP BY p.id ORDER BY 2 DESC"
        ),
        {"bench_writes": BENCH_WRITES_FROM},
    )
    return [(row[0], row[1]) for row in rows]


@dataclass
class Firm:
    """The loaded firm as the benchmarks use it."""

    settings: Settings
    databases: Databases
    summary: dict[str, Any]
    built_now: bool
    token: str
    sizes: list[tuple[uuid.UUID, int]]  # (project, entries), largest first
    team: list[tuple[uuid.UUID, uuid.UUID]]  # (open project, member): who may log time
    last_day: dt.date

    def nearest(self, entries: int) -> tuple[uuid.UUID, int]:
        """The project whose size is nearest `entries`."""
        return min(self.sizes, key=lambda size: abs(size[1] - entries))

    def ranges(self) -> dict[str, tuple[dt.date, dt.date]]:
        """The firm's last full month, quarter and year, for the reports."""
        end = self.last_day.replace(day=1) - dt.timedelta(days=1)
        month, quarter, year = (_month_start(end, back) for back in (0, 2, 11))
        return {"month": (month, end), "quarter": (quarter, end), "year": (year, end)}


def open_firm(settings: Settings, scale: Scale, jobs: int) -> Firm:
    """The firm for these parameters, built into fresh databases unless already loaded."""
    for url in {settings.database_url, settings.read_database_url}:
        create_database_if_missing(url)
    databases = Databases(settings.database_url, settings.read_database_url)
    summary = cached(databases.write, scale)
    built_now = summary is None
    if summary is None:
        databases.dispose()
        print(f"building the {scale.name} firm ({scale.entries:,} entries) ...", flush=True)
        databases = fresh_databases(settings)
        summary = build(settings, databases, scale, jobs)
    keep_open_through_bench_writes(settings, databases)
    with databases.write.begin() as conn:
        admin = conn.execute(
            text("SELECT id FROM people WHERE email = :email"), {"email": ADMIN_EMAIL}
        ).scalar_one()
        conn.execute(text("DELETE FROM api_tokens WHERE person_id = :id"), {"id": admin})
        token = issue_token(conn, admin, "bench").token
        team = [
            (row[0], row[1])
            for row in conn.execute(
                text(
                    "SELECT m.project_id, m.person_id FROM project_members m"
                    " JOIN projects p ON p.id = m.project_id WHERE p.status = 'open'"
                    " ORDER BY 1, 2"
                )
            )
        ]
        sizes = projects_by_size(conn)
    last_day = FIRST_DAY + dt.timedelta(days=scale.days - 1)
    return Firm(settings, databases, summary, built_now, token, sizes, team, last_day)

"""Realistic demo data, created through the command handlers like any other change."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable

from domain import commands, handlers
from domain.handlers import Outcome
from domain.store.db import Databases
from domain.store.unit_of_work import SqlUnitOfWork

CLIENTS = [
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Tyrell Energy",
    "Acme Retail",
]
FIRST_NAMES = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Iris",
    "Jonas",
    "Kai",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
]
LAST_NAMES = [
    "Lovelace",
    "Okafor",
    "Martin",
    "Patel",
    "Yilmaz",
    "Haddad",
    "Hopper",
    "Moreau",
    "Novak",
    "Berg",
    "Tanaka",
    "Schmidt",
    "Garcia",
    "Kim",
    "Rahman",
    "Singh",
]
ROLES = ["Engineer", "Designer", "Analyst", "Consultant", "QA"]
TASKS = ["Discovery", "Design", "Build", "Testing", "Rollout", "Training", "Support"]
PROJECT_KINDS = [
    "Website relaunch",
    "Data platform",
    "Mobile app",
    "ERP rollout",
    "Security audit",
    "Cloud migration",
    "Analytics dashboard",
    "CRM integration",
]


def create_demo_data(
    databases: Databases,
    *,
    projects: int = 12,
    entries: int = 400,
    seed: int = 7,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> dict[str, int]:
    """A consulting firm: clients, managers, members, projects with teams and tasks, and
    several weeks of logged time, some approved, some rejected and amended."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]

    def execute(cmd: commands.Command) -> Outcome:
        outcome = handlers.handle(cmd, SqlUnitOfWork(databases.write, {"actor": "demo-data"}))
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    client_ids = [execute(commands.RegisterClient(name=name)).id for name in CLIENTS]

    def person(role: str, index: int) -> uuid.UUID:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        rate = rng.choice([9000, 11000, 12500, 15000])
        return execute(
            commands.RegisterPerson(
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{role}{index}.{run}@demo.tally".lower(),
                role=role,
                weekly_capacity_hundredths=rng.choice([3200, 4000, 4000, 4000]),
                default_bill_rate_cents=rate,
                cost_rate_cents=rate // 2,
            )
        ).id

    managers = [person("manager", i) for i in range(4)]
    members = [person("member", i) for i in range(12)]
    today = dt.date.today()
    teams: dict[uuid.UUID, tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]] = {}
    for index in range(projects):
        start = today - dt.timedelta(days=rng.randint(30, 120))
        manager = rng.choice(managers)
        project_id = execute(
            commands.CreateProject(
                name=f"{rng.choice(PROJECT_KINDS)} #{index + 1}",
                client_id=rng.choice(client_ids),
                manager_id=manager,
                start_date=start,
                end_date=start + dt.timedelta(days=rng.randint(90, 240)),
                budget_cents=rng.choice([25_000, 50_000, 80_000, 120_000]) * 100,
                default_bill_rate_cents=rng.choice([None, 10_000, 14_000]),
            )
        ).id
        team = rng.sample(members, rng.randint(2, 5))
        for member in team:
            execute(
                commands.AddMember(
                    project_id=project_id,
                    person_id=member,
                    role=rng.choice(ROLES),
                    bill_rate_cents=rng.choice([None, None, 13_000]),
                )
            )
        task_ids = [
            execute(
                commands.AddTask(
                    project_id=project_id,
                    name=name,
                    estimate_hundredths=rng.choice([None, 4000, 8000]),
                )
            ).id
            for name in rng.sample(TASKS, 3)
        ]
        teams[project_id] = (manager, team, task_ids)
    logged = _log_weeks(execute, rng, teams, entries, today)
    return {
        "clients": len(client_ids),
        "people": len(managers) + len(members),
        "projects": projects,
        "entries": logged,
    }


def _log_weeks(
    execute: Callable[[commands.Command], Outcome],
    rng: random.Random,
    teams: dict[uuid.UUID, tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]],
    entries: int,
    today: dt.date,
) -> int:
    """Log entries on recent weekdays; approve most, reject a few and amend some of those."""
    logged = 0
    day_totals: dict[tuple[uuid.UUID, dt.date], int] = {}
    projects = list(teams)
    attempts = 0
    while logged < entries and attempts < entries * 3:
        attempts += 1
        project_id = rng.choice(projects)
        _manager, team, task_ids = teams[project_id]
        person_id = rng.choice(team)
        day = today - dt.timedelta(days=rng.randint(0, 41))
        if day.weekday() >= 5:
            continue
        hours = rng.choice([100, 150, 200, 300, 400, 450, 600, 750, 800])
        if day_totals.get((person_id, day), 0) + hours > 1000:
            continue
        day_totals[(person_id, day)] = day_totals.get((person_id, day), 0) + hours
        entry_id = execute(
            commands.LogTime(
                project_id=project_id,
                person_id=person_id,
                date=day,
                hours_hundredths=hours,
                billable=rng.random() < 0.8,
                task_id=rng.choice([None, *task_ids]),
                notes=rng.choice([None, "Workshop", "Review", "Implementation", "Support call"]),
            )
        ).id
        logged += 1
        roll = rng.random()
        if day < today - dt.timedelta(days=7) and roll < 0.6:
            execute(commands.ApproveTimeEntry(entry_id=entry_id))
        elif roll < 0.7:
            execute(commands.RejectTimeEntry(entry_id=entry_id, reason="Please add notes"))
            if rng.random() < 0.5:
                execute(
                    commands.AmendTimeEntry(entry_id=entry_id, changes={"notes": "Added detail"})
                )
    return logged

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
    seed: int = 7,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> dict[str, int]:
    """Create clients, managers, members and projects; returns how many of each."""
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
    for index in range(projects):
        start = today - dt.timedelta(days=rng.randint(10, 120))
        execute(
            commands.CreateProject(
                name=f"{rng.choice(PROJECT_KINDS)} #{index + 1}",
                client_id=rng.choice(client_ids),
                manager_id=rng.choice(managers),
                start_date=start,
                end_date=start + dt.timedelta(days=rng.randint(60, 240)),
                budget_cents=rng.choice([25_000, 50_000, 80_000, 120_000]) * 100,
                default_bill_rate_cents=rng.choice([None, 10_000, 14_000]),
            )
        )
    return {
        "clients": len(client_ids),
        "people": len(managers) + len(members),
        "projects": projects,
    }

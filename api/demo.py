"""Realistic demo data, created through the command handlers like any other change."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from domain import commands, errors, handlers, model
from domain.handlers import Outcome
from domain.policy import utc_today
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


MAX_ENTRIES = 100_000
# One entry per person and working day on average: a day holds 10 hours, an entry about 4.5,
# so the loop below rarely meets a full day.
ENTRIES_PER_PERSON_DAY = 1.0
MIN_WEEKS, MAX_WEEKS = 6, 52
MIN_MEMBERS = 12


class DemoDataError(ValueError):
    """Asked for a firm the demo cannot build."""


@dataclass(frozen=True)
class FirmSize:
    managers: int
    members: int
    weeks: int

    @classmethod
    def for_entries(cls, entries: int) -> FirmSize:
        """Weeks grow with the entries first (up to a year), then people."""
        weeks = min(max(MIN_WEEKS, math.ceil(entries / (MIN_MEMBERS * 5))), MAX_WEEKS)
        members = max(MIN_MEMBERS, math.ceil(entries / (weeks * 5 * ENTRIES_PER_PERSON_DAY)))
        return cls(managers=max(4, members // 4), members=members, weeks=weeks)


def create_demo_data(
    databases: Databases,
    *,
    projects: int = 12,
    entries: int = 400,
    seed: int = 7,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> dict[str, int | str]:
    """A consulting firm: clients, managers, members (with bill and cost rates), projects
    with teams and tasks, and `entries` time entries over recent weeks. Past weeks are
    submitted and most approved by their projects' managers, a few entries rejected and
    amended; the period before the last three weeks is locked; one member and one client are
    archived. The people and the weeks grow with `entries`, so that every entry fits in a
    working day."""
    if projects < 1:
        raise DemoDataError("a demo firm needs at least one project")
    if not 0 <= entries <= MAX_ENTRIES:
        raise DemoDataError(
            f"demo data holds 0 to {MAX_ENTRIES:,} entries (each goes through the command "
            "handlers); the benchmark's firm loader builds larger firms"
        )
    size = FirmSize.for_entries(entries)
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

    managers = [person(model.Role.MANAGER, i) for i in range(size.managers)]
    members = [person(model.Role.MEMBER, i) for i in range(size.members)]
    today = utc_today()
    first_day = today - dt.timedelta(weeks=size.weeks)
    teams = _staff_projects(execute, rng, client_ids, managers, members, projects, first_day)
    logged, weeks = _log_weeks(execute, rng, teams, entries, first_day, today)
    reviewed = _review_weeks(execute, weeks, today)
    lock_date = _monday(today) - dt.timedelta(weeks=2, days=1)
    execute(commands.SetLockDate(lock_date=lock_date))
    # Retired, yet in every report: a member who logged time, and a client.
    execute(commands.ArchivePerson(members[-1]))
    execute(commands.ArchiveClient(client_ids[-1]))
    return {
        "clients": len(client_ids),
        "people": len(managers) + len(members),
        "projects": projects,
        "entries": logged,
        "weeks": size.weeks,
        "submitted_weeks": reviewed["submitted"],
        "approved_weeks": reviewed["approved"],
        "lock_date": lock_date.isoformat(),
    }


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _review_weeks(
    execute: Callable[[commands.Command], Outcome],
    weeks: dict[tuple[uuid.UUID, str], set[uuid.UUID]],
    today: dt.date,
) -> dict[str, int]:
    """Each person submits every week before this one; each project's manager approves the
    weeks before the last, leaving last week's submitted and waiting for them."""
    this_week = model.week_of(today)
    last_week = model.week_of(today - dt.timedelta(weeks=1))
    reviewed = {"submitted": 0, "approved": 0}
    for (person_id, week), managers in sorted(weeks.items(), key=lambda item: item[0][1]):
        if week == this_week:
            continue
        try:
            execute(commands.SubmitTimesheet(person_id, week, actor_id=person_id))
            reviewed["submitted"] += 1
        except errors.InvalidTransition:
            continue  # every entry of the week was reviewed one by one already
        if week == last_week:
            continue
        approvals = 0
        for manager in sorted(managers):
            try:
                execute(commands.ApproveTimesheet(person_id, week, actor_id=manager))
                approvals += 1
            except errors.InvalidTransition:
                continue  # this manager's entries of the week were rejected
        reviewed["approved"] += approvals > 0
    return reviewed


@dataclass(frozen=True)
class Team:
    manager: uuid.UUID
    members: list[uuid.UUID]
    tasks: list[uuid.UUID]


def _staff_projects(
    execute: Callable[[commands.Command], Outcome],
    rng: random.Random,
    client_ids: list[uuid.UUID],
    managers: list[uuid.UUID],
    members: list[uuid.UUID],
    projects: int,
    first_day: dt.date,
) -> dict[uuid.UUID, Team]:
    """Projects that started before the first logged day, each with two to five members;
    every member is on at least one project."""
    staffing = [rng.sample(members, min(len(members), rng.randint(2, 5))) for _ in range(projects)]
    for index, member in enumerate(m for m in members if not any(m in t for t in staffing)):
        staffing[index % projects].append(member)
    teams: dict[uuid.UUID, Team] = {}
    for index, team in enumerate(staffing):
        start = first_day - dt.timedelta(days=rng.randint(0, 60))
        manager = rng.choice(managers)
        project_id = execute(
            commands.CreateProject(
                name=f"{rng.choice(PROJECT_KINDS)} #{index + 1}",
                client_id=rng.choice(client_ids),
                manager_id=manager,
                start_date=start,
                end_date=utc_today() + dt.timedelta(days=rng.randint(30, 240)),
                budget_cents=rng.choice([25_000, 50_000, 80_000, 120_000]) * 100,
                default_bill_rate_cents=rng.choice([None, 10_000, 14_000]),
            )
        ).id
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
        teams[project_id] = Team(manager, team, task_ids)
    return teams


def _log_weeks(
    execute: Callable[[commands.Command], Outcome],
    rng: random.Random,
    teams: dict[uuid.UUID, Team],
    entries: int,
    first_day: dt.date,
    today: dt.date,
) -> tuple[int, dict[tuple[uuid.UUID, str], set[uuid.UUID]]]:
    """Log entries on weekdays from first_day to today, spread evenly over the people; reject
    a few (by their project's manager) and amend some of those back to drafts. Returns how
    many were logged and, per person and week, the managers whose projects the week holds."""
    projects_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    for project_id, team in teams.items():
        for member in team.members:
            projects_of.setdefault(member, []).append(project_id)
    people = sorted(projects_of)
    workdays = [
        first_day + dt.timedelta(days=offset)
        for offset in range((today - first_day).days + 1)
        if (first_day + dt.timedelta(days=offset)).weekday() < 5
    ]
    day_totals: dict[tuple[uuid.UUID, dt.date], int] = {}
    weeks: dict[tuple[uuid.UUID, str], set[uuid.UUID]] = {}
    logged = attempts = 0
    while logged < entries:
        attempts += 1
        if attempts > entries * 5:
            raise DemoDataError(f"placed only {logged} of {entries} entries in working days")
        person_id = rng.choice(people)
        project_id = rng.choice(projects_of[person_id])
        day = rng.choice(workdays)
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
                task_id=rng.choice([None, *teams[project_id].tasks]),
                notes=rng.choice([None, "Workshop", "Review", "Implementation", "Support call"]),
            )
        ).id
        logged += 1
        manager = teams[project_id].manager
        weeks.setdefault((person_id, model.week_of(day)), set()).add(manager)
        if rng.random() < 0.1:
            execute(
                commands.RejectTimeEntry(
                    entry_id=entry_id, reason="Please add notes", actor_id=manager
                )
            )
            if rng.random() < 0.5:
                execute(
                    commands.AmendTimeEntry(
                        entry_id=entry_id, changes={"notes": "Added detail"}, actor_id=person_id
                    )
                )
    return logged, weeks

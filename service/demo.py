"""Realistic demo data, created through the command service like any other change."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass, field

from domain import commands, errors, model
from domain.handlers import Outcome
from domain.policy import utc_today
from service.commands import CommandService

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
    service: CommandService, *, projects: int = 12, entries: int = 400, seed: int = 7
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
    firm = DemoFirm(service, random.Random(seed))
    client_ids = [firm.run(commands.RegisterClient(name=name)).id for name in CLIENTS]
    managers = [firm.person(model.Role.MANAGER, i) for i in range(size.managers)]
    members = [firm.person(model.Role.MEMBER, i) for i in range(size.members)]
    today = utc_today()
    first_day = today - dt.timedelta(weeks=size.weeks)
    teams = firm.staff_projects(client_ids, managers, members, projects, first_day)
    logged = firm.log_weeks(teams, entries, first_day, today)
    reviewed = firm.review_weeks(today)
    lock_date = _monday(today) - dt.timedelta(weeks=2, days=1)
    firm.run(commands.SetLockDate(lock_date=lock_date))
    # Retired, yet in every report: a member who logged time, and a client.
    firm.run(commands.ArchivePerson(members[-1]))
    firm.run(commands.ArchiveClient(client_ids[-1]))
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


@dataclass(frozen=True)
class Team:
    manager: uuid.UUID
    members: list[uuid.UUID]
    tasks: list[uuid.UUID]


@dataclass
class DemoFirm:
    """Builds the firm one command at a time; `weeks` holds, per person and week logged,
    the managers whose projects the week holds (they review it)."""

    service: CommandService
    rng: random.Random
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    weeks: dict[tuple[uuid.UUID, str], set[uuid.UUID]] = field(default_factory=dict)

    def run(self, cmd: commands.Command) -> Outcome:
        return self.service.execute(cmd).outcome

    def person(self, role: str, index: int) -> uuid.UUID:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        rate = self.rng.choice([9000, 11000, 12500, 15000])
        return self.run(
            commands.RegisterPerson(
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{role}{index}.{self.run_id}@demo.tally".lower(),
                role=role,
                weekly_capacity_hundredths=self.rng.choice([3200, 4000, 4000, 4000]),
                default_bill_rate_cents=rate,
                cost_rate_cents=rate // 2,
            )
        ).id

    def staff_projects(
        self,
        client_ids: list[uuid.UUID],
        managers: list[uuid.UUID],
        members: list[uuid.UUID],
        projects: int,
        first_day: dt.date,
    ) -> dict[uuid.UUID, Team]:
        """Projects that started before the first logged day, each with two to five members;
        every member is on at least one project."""
        rng = self.rng
        staffing = [
            rng.sample(members, min(len(members), rng.randint(2, 5))) for _ in range(projects)
        ]
        for index, member in enumerate(m for m in members if not any(m in t for t in staffing)):
            staffing[index % projects].append(member)
        teams: dict[uuid.UUID, Team] = {}
        for index, team in enumerate(staffing):
            start = first_day - dt.timedelta(days=rng.randint(0, 60))
            manager = rng.choice(managers)
            project_id = self._create_project(index, client_ids, manager, start)
            teams[project_id] = Team(manager, team, self._staff(project_id, team))
        return teams

    def _create_project(
        self, index: int, client_ids: list[uuid.UUID], manager: uuid.UUID, start: dt.date
    ) -> uuid.UUID:
        rng = self.rng
        return self.run(
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

    def _staff(self, project_id: uuid.UUID, team: list[uuid.UUID]) -> list[uuid.UUID]:
        """Add the team and three tasks; returns the tasks."""
        rng = self.rng
        for member in team:
            self.run(
                commands.AddMember(
                    project_id=project_id,
                    person_id=member,
                    role=rng.choice(ROLES),
                    bill_rate_cents=rng.choice([None, None, 13_000]),
                )
            )
        return [
            self.run(
                commands.AddTask(
                    project_id=project_id,
                    name=name,
                    estimate_hundredths=rng.choice([None, 4000, 8000]),
                )
            ).id
            for name in rng.sample(TASKS, 3)
        ]

    def log_weeks(
        self, teams: dict[uuid.UUID, Team], entries: int, first_day: dt.date, today: dt.date
    ) -> int:
        """Log entries on weekdays from first_day to today, spread evenly over the people;
        reject a few (by their project's manager) and amend some of those back to drafts.
        Returns how many were logged."""
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
        logged = attempts = 0
        while logged < entries:
            attempts += 1
            if attempts > entries * 5:
                raise DemoDataError(f"placed only {logged} of {entries} entries in working days")
            person_id = self.rng.choice(people)
            project_id = self.rng.choice(projects_of[person_id])
            day = self.rng.choice(workdays)
            hours = self.rng.choice([100, 150, 200, 300, 400, 450, 600, 750, 800])
            if day_totals.get((person_id, day), 0) + hours > 1000:
                continue
            day_totals[(person_id, day)] = day_totals.get((person_id, day), 0) + hours
            self._log(teams[project_id], project_id, person_id, day, hours)
            logged += 1
        return logged

    def _log(
        self, team: Team, project_id: uuid.UUID, person_id: uuid.UUID, day: dt.date, hours: int
    ) -> None:
        rng = self.rng
        entry_id = self.run(
            commands.LogTime(
                project_id=project_id,
                person_id=person_id,
                date=day,
                hours_hundredths=hours,
                billable=rng.random() < 0.8,
                task_id=rng.choice([None, *team.tasks]),
                notes=rng.choice([None, "Workshop", "Review", "Implementation", "Support call"]),
            )
        ).id
        self.weeks.setdefault((person_id, model.week_of(day)), set()).add(team.manager)
        if rng.random() < 0.1:
            self.run(
                commands.RejectTimeEntry(
                    entry_id=entry_id, reason="Please add notes", actor_id=team.manager
                )
            )
            if rng.random() < 0.5:
                self.run(
                    commands.AmendTimeEntry(
                        entry_id=entry_id, changes={"notes": "Added detail"}, actor_id=person_id
                    )
                )

    def review_weeks(self, today: dt.date) -> dict[str, int]:
        """Each person submits every week before this one; each project's manager approves
        the weeks before the last, leaving last week's submitted and waiting for them."""
        this_week = model.week_of(today)
        last_week = model.week_of(today - dt.timedelta(weeks=1))
        reviewed = {"submitted": 0, "approved": 0}
        for (person_id, week), managers in sorted(self.weeks.items(), key=lambda item: item[0][1]):
            if week == this_week:
                continue
            try:
                self.run(commands.SubmitTimesheet(person_id, week, actor_id=person_id))
                reviewed["submitted"] += 1
            except errors.InvalidTransition:
                continue  # every entry of the week was reviewed one by one already
            if week != last_week:
                reviewed["approved"] += self._approve(person_id, week, managers) > 0
        return reviewed

    def _approve(self, person_id: uuid.UUID, week: str, managers: set[uuid.UUID]) -> int:
        """Each manager approves their entries of the week; returns how many did."""
        approvals = 0
        for manager in sorted(managers):
            try:
                self.run(commands.ApproveTimesheet(person_id, week, actor_id=manager))
                approvals += 1
            except errors.InvalidTransition:
                continue  # this manager's entries of the week were rejected
        return approvals

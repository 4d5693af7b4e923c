"""Verify: recompute each read model from the write tables (joins and aggregates, the CRUD
way) and diff it against what the projector built. The same queries are the benchmarks'
baseline and the tests' oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from domain.store import tables as w
from domain.store.db import Databases
from readmodels import tables as r
from readmodels.dashboards import budget_used_pct

Rows = dict[Any, dict[str, Any]]


def recompute_project_dashboards(conn: Connection) -> Rows:
    manager = w.people.alias("manager")
    query = (
        select(
            w.projects.c.id.label("project_id"),
            w.projects.c.name,
            w.projects.c.status,
            w.projects.c.client_id,
            w.clients.c.name.label("client_name"),
            w.projects.c.manager_id,
            (manager.c.first_name + " " + manager.c.last_name).label("manager_name"),
            w.projects.c.start_date,
            w.projects.c.end_date,
            w.projects.c.budget_cents,
        )
        .join(w.clients, w.clients.c.id == w.projects.c.client_id)
        .join(manager, manager.c.id == w.projects.c.manager_id)
    )
    rows: Rows = {}
    for row in conn.execute(query):
        values = dict(row._mapping)
        values |= {
            "total_hundredths": 0,
            "billable_hundredths": 0,
            "billed_cents": 0,
            "budget_used_pct": budget_used_pct(0, row.budget_cents),
            "active_task_count": 0,
            "completed_task_count": 0,
            "team": [],
        }
        rows[row.project_id] = values
    return rows


def current_project_dashboards(conn: Connection) -> Rows:
    columns = [c for c in r.project_dashboards.c if c.name != "updated_at"]
    return {row.project_id: dict(row._mapping) for row in conn.execute(select(*columns))}


@dataclass(frozen=True)
class Check:
    recompute: Callable[[Connection], Rows]
    current: Callable[[Connection], Rows]


CHECKS: dict[str, Check] = {
    "project_dashboards": Check(recompute_project_dashboards, current_project_dashboards),
}


@dataclass
class Drift:
    projection: str
    missing: list[Any] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)
    differing: dict[Any, dict[str, tuple[Any, Any]]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.differing)

    def report(self, limit: int = 20) -> str:
        if self.clean:
            return f"{self.projection}: ok"
        lines = [
            f"{self.projection}: DRIFT ({len(self.missing)} missing, {len(self.extra)} extra, "
            f"{len(self.differing)} differing rows)"
        ]
        lines += [f"  missing {key}" for key in self.missing[:limit]]
        lines += [f"  extra   {key}" for key in self.extra[:limit]]
        for key, fields in list(self.differing.items())[:limit]:
            changes = ", ".join(
                f"{column}: expected {want!r}, found {got!r}"
                for column, (want, got) in fields.items()
            )
            lines.append(f"  differs {key}: {changes}")
        return "\n".join(lines)


def _normalize(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def diff(name: str, expected: Rows, actual: Rows) -> Drift:
    drift = Drift(name)
    drift.missing = sorted(set(expected) - set(actual), key=str)
    drift.extra = sorted(set(actual) - set(expected), key=str)
    for key in set(expected) & set(actual):
        fields = {
            column: (expected[key][column], actual[key].get(column))
            for column in expected[key]
            if _normalize(expected[key][column]) != _normalize(actual[key].get(column))
        }
        if fields:
            drift.differing[key] = fields
    return drift


def verify(dbs: Databases, name: str) -> Drift:
    check = CHECKS[name]
    with dbs.write.connect() as write_conn:
        expected = check.recompute(write_conn)
    with dbs.read.connect() as read_conn:
        actual = check.current(read_conn)
    return diff(name, expected, actual)

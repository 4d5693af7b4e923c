"""Every projection the catch-up runs, by name."""

from __future__ import annotations

from collections.abc import Iterable

from readmodels import dashboards, directory, lock_date, reports, time_entry_rows, timesheets
from readmodels.projection import Projection


def by_name(projections: Iterable[Projection]) -> dict[str, Projection]:
    """The projections by name; two of one name are an error."""
    found: dict[str, Projection] = {}
    for projection in projections:
        if projection.name in found:
            raise ValueError(f"two projections are named {projection.name}")
        found[projection.name] = projection
    return found


PROJECTIONS: dict[str, Projection] = by_name(
    (
        dashboards.projection,
        time_entry_rows.projection,
        reports.utilization,
        reports.client_revenue,
        reports.budget_burn,
        reports.project_profitability,
        lock_date.projection,
        timesheets.projection,
        directory.projection,
    )
)


def affected_by(event_types: set[str] | frozenset[str]) -> list[Projection]:
    """The projections that apply any of these events (by the names the log stores)."""
    return [p for p in PROJECTIONS.values() if p.event_types & event_types]

"""Every projection the engine runs, by name."""

from __future__ import annotations

from readmodels import dashboards, directory, lock_date, reports, time_entry_rows, timesheets
from readmodels.projection import Projection

PROJECTIONS: dict[str, Projection] = {
    projection.name: projection
    for projection in (
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
}


def affected_by(event_types: set[str] | frozenset[str]) -> list[Projection]:
    return [p for p in PROJECTIONS.values() if p.event_types & event_types]

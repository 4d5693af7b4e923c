"""`tally demo-data`: a realistic firm, made through the command handlers."""

from __future__ import annotations

from api.demo import create_demo_data
from cli.databases import open_databases
from domain.settings import Settings
from readmodels.engine import head_position
from readmodels.registry import PROJECTIONS
from workers.celery_app import make_celery


def demo_data(settings: Settings, projects: int, entries: int) -> dict[str, int | str]:
    """Create the firm, then wake every projection to the head of the log."""
    with open_databases(settings) as databases:
        counts = create_demo_data(databases, projects=projects, entries=entries)
        make_celery(settings).delivery.wake(PROJECTIONS, head_position(databases))
        return counts

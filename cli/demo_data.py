"""`tally demo-data`: a realistic firm, made through the command service."""

from __future__ import annotations

from cli.databases import open_databases
from domain.settings import Settings
from service.commands import CommandService
from service.demo import create_demo_data
from workers.celery_app import make_celery


def demo_data(settings: Settings, projects: int, entries: int) -> dict[str, int | str]:
    """Create the firm; every command wakes the workers, who project the firm as it grows."""
    with open_databases(settings) as databases:
        service = CommandService(
            databases,
            make_celery(settings).delivery,
            settings.policy,
            settings.sync_timeout,
            catch_up_critical=False,
        )
        return create_demo_data(service, projects=projects, entries=entries)

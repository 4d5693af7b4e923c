"""Celery app and tasks: thin wrappers around the projection engine in readmodels.

`celery -A workers` asks this package for `app`; it is built from the environment on that
first request, not at import, so importing `workers` has no side effects.
"""

from __future__ import annotations

from functools import cache

from domain.settings import Settings
from workers.celery_app import TallyCelery, make_celery


@cache
def _app_from_environment() -> TallyCelery:
    return make_celery(Settings.from_env())


def __getattr__(name: str) -> TallyCelery:
    if name == "app":
        return _app_from_environment()
    raise AttributeError(name)

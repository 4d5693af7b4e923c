"""The Celery app, built from settings, with the options the projection guarantees rely on."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property

from celery import Celery

from domain.settings import Settings
from domain.store.db import Databases
from workers import filesystem_broker
from workers.delivery import Delivery, make_gate

SWEEP_INTERVAL_SECONDS = 1.0
IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 3600.0
# Longer than any retry delay, and than a catch-up task's time slice, so that Redis never
# hands a running task to a second worker.
VISIBILITY_TIMEOUT_SECONDS = 3600


class RoutineSweepFilter(logging.Filter):
    """Drops the worker's "received" and "succeeded" lines of `tally.sweep`, two a second,
    unless the worker logs at DEBUG; the sweep logs what it wakes itself, and a failing sweep
    is logged as any failing task is."""

    def filter(self, record: logging.LogRecord) -> bool:
        routine = (
            record.levelno == logging.INFO
            and isinstance(record.args, Mapping)
            and record.args.get("name") == "tally.sweep"
        )
        return not routine or logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


# The loggers of Celery's "Task ... received" and "Task ... succeeded" lines.
for task_logger in ("celery.worker.strategy", "celery.app.trace"):
    logging.getLogger(task_logger).addFilter(RoutineSweepFilter())


class TallyCelery(Celery):  # type: ignore[misc]  # celery ships no type information
    """A Celery app that knows Tally's settings and opens its databases on first use."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("tally", broker=broker_url(settings), include=["workers.tasks"])
        self.settings = settings

    @cached_property
    def databases(self) -> Databases:
        return Databases(self.settings.database_url, self.settings.read_database_url)

    @cached_property
    def delivery(self) -> Delivery:
        return Delivery(self, make_gate(self.settings))


def broker_url(settings: Settings) -> str:
    """The embedded default always gets Tally's filesystem transport, never kombu's stock one."""
    if settings.uses_filesystem_broker:
        # A host, though none is used: without one kombu warns on every connection.
        return f"{filesystem_broker.SCHEME}://localhost/"
    return settings.broker_url


def make_celery(settings: Settings) -> TallyCelery:
    app = TallyCelery(settings)
    transport_options: dict[str, object] = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
    if settings.uses_filesystem_broker:
        transport_options |= {
            "broker_folder": str(settings.broker_folder),
            "polling_interval": 0.05,
        }
    else:
        transport_options |= {"socket_connect_timeout": 1, "socket_timeout": 5}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        accept_content=["json"],
        task_serializer="json",
        task_ignore_result=True,
        task_default_queue="tally",
        worker_send_task_events=True,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        # How long an event queue outlives its consumer (Flower's, say): the embedded broker
        # deletes it then. Celery's default is a minute of events written for nobody.
        event_queue_expires=10.0,
        beat_schedule={
            "sweep": {"task": "tally.sweep", "schedule": SWEEP_INTERVAL_SECONDS},
            "purge idempotency keys": {
                "task": "tally.purge_idempotency_keys",
                "schedule": IDEMPOTENCY_PURGE_INTERVAL_SECONDS,
            },
        },
        beat_sync_every=10,
        beat_schedule_filename=str(settings.home / "celerybeat-schedule"),
        worker_hijack_root_logger=False,
    )
    if settings.verify_interval > 0:
        app.conf.beat_schedule["verify read models"] = {
            "task": "tally.verify",
            "schedule": settings.verify_interval,
        }
    return app

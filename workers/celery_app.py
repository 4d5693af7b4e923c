"""The Celery app, built from settings, with the options the projection guarantees rely on."""

from __future__ import annotations

from functools import cached_property

from celery import Celery

from domain.settings import Settings
from domain.store.db import Databases
from workers.delivery import Delivery, make_gate

SWEEP_INTERVAL_SECONDS = 1.0
IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 3600.0
# Longer than any retry delay, and than a catch-up task's time slice, so that Redis never
# hands a running task to a second worker.
VISIBILITY_TIMEOUT_SECONDS = 3600


class TallyCelery(Celery):
    """A Celery app that knows Tally's settings and opens its databases on first use."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("tally", broker=settings.broker_url, include=["workers.tasks"])
        self.settings = settings

    @cached_property
    def databases(self) -> Databases:
        return Databases(self.settings.database_url, self.settings.read_database_url)

    @cached_property
    def delivery(self) -> Delivery:
        return Delivery(self, make_gate(self.settings))


def make_celery(settings: Settings) -> TallyCelery:
    app = TallyCelery(settings)
    transport_options: dict[str, object] = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
    if settings.uses_filesystem_broker:
        folder = settings.broker_folder
        (folder / "queue").mkdir(parents=True, exist_ok=True)
        transport_options |= {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "store_processed": False,
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

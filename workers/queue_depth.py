"""The broker's queue depth, read at scrape time: tasks waiting for a worker."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from celery import Celery
from kombu.exceptions import ChannelError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


def queue_depth(app: Celery) -> int:
    """Messages waiting in the task queue (Redis: the lengths of its lists; the filesystem
    broker: its message files)."""
    queue = app.conf.task_default_queue
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=1)
        try:
            return int(connection.default_channel.queue_declare(queue, passive=True).message_count)
        except ChannelError:
            # Redis drops an empty list, and kombu then reports the queue as missing.
            return 0


class QueueDepthCollector(Collector):
    """tally_broker_queue_depth{queue}; absent while the broker does not answer."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth = queue_depth(self.app)
        except Exception as error:
            log.warning("queue depth unavailable: %s", error)
            return
        family = GaugeMetricFamily(
            "tally_broker_queue_depth", "Tasks waiting in the broker.", labels=["queue"]
        )
        family.add_metric([self.app.conf.task_default_queue], depth)
        yield family

"""Delivery after commit: wake the projections a command's events affect.

Wakeups are throttled per projection with a leading and a trailing edge: the first command
in a window enqueues a catch-up at once, the next one enqueues a single catch-up that runs
when the window ends, later ones in the window enqueue nothing. Every event is therefore
followed by a catch-up that starts after it was committed, and the queue holds at most two
tasks per projection and window however fast commands arrive. Enqueueing never fails a
command: when the broker is down the beat sweep catches up once it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Protocol

import redis

from domain.settings import Settings
from workers.celery_app import TallyCelery

log = logging.getLogger(__name__)

WAKEUP_WINDOW_SECONDS = 0.02


class WakeupGate(Protocol):
    def claim(self, key: str, seconds: float) -> bool:
        """Claim key for seconds; False while an earlier claim still holds it."""


class LocalGate:
    """A gate inside one process (the embedded default has no Redis)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, seconds: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._until.get(key, 0.0) > now:
                return False
            self._until[key] = now + seconds
            return True


class RedisGate:
    """A gate shared by every API process, kept in the broker's Redis."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)

    def claim(self, key: str, seconds: float) -> bool:
        return bool(self._redis.set(f"tally:wakeup:{key}", 1, nx=True, px=int(seconds * 1000)))


def make_gate(settings: Settings) -> WakeupGate:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return RedisGate(settings.broker_url)
    return LocalGate()


class Delivery:
    def __init__(
        self, celery: TallyCelery, gate: WakeupGate, window: float = WAKEUP_WINDOW_SECONDS
    ) -> None:
        self.celery = celery
        self.gate = gate
        self.window = window

    def wake(self, projections: Iterable[str], position: int) -> None:
        """Enqueue catch-ups for these projections, throttled; never raises."""
        for name in projections:
            try:
                if self.gate.claim(f"{name}:lead", self.window):
                    self.enqueue(name, position)
                elif self.gate.claim(f"{name}:trail", self.window):
                    self.enqueue(name, position, countdown=self.window)
            except Exception as error:
                log.warning("could not wake projection %s: %s", name, error)

    def enqueue(self, name: str, position: int, countdown: float | None = None) -> None:
        self.celery.send_task(
            "tally.catch_up",
            args=(name, position),
            countdown=countdown,
            retry=False,
            shadow=f"catch_up {name} to {position}",
        )

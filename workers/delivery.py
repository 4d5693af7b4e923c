"""Delivery after commit: wake the projections a command's events affect.

One flag per projection says "a catch-up is queued and has not started yet". A command
enqueues a catch-up only when it is the one that sets the flag; the task clears the flag as
it starts, before it reads the head of the log. So the queue holds at most one waiting task
per projection however fast commands arrive, and no event is left behind:

- a command whose flag was already set committed before that queued task starts, and the
  task reads the head after it starts, so it sees the command's events;
- a command that sets the flag after the task started enqueues the next task itself.

The flag expires after FLAG_TTL_SECONDS, so a task lost with a dead worker cannot hold it
forever; beat's sweep covers that gap, and a broker outage too. Enqueueing never fails a
command.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import redis

from domain.settings import Settings

log = logging.getLogger(__name__)

FLAG_TTL_SECONDS = 3.0


class WakeupGate(Protocol):
    def claim(self, names: list[str]) -> list[str]:
        """Set the flag of each projection; return those whose flag this call set."""

    def release(self, name: str) -> None:
        """Clear the projection's flag: its queued catch-up has started."""


class RedisGate:
    """Flags in the broker's Redis, shared by every API process and worker."""

    def __init__(self, url: str, ttl: float = FLAG_TTL_SECONDS) -> None:
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
        self._ttl_ms = int(ttl * 1000)

    def claim(self, names: list[str]) -> list[str]:
        pipeline = self._redis.pipeline(transaction=False)
        for name in names:
            pipeline.set(f"tally:pending:{name}", 1, nx=True, px=self._ttl_ms)
        return [name for name, claimed in zip(names, pipeline.execute(), strict=True) if claimed]

    def release(self, name: str) -> None:
        self._redis.delete(f"tally:pending:{name}")


class FileGate:
    """Flags as files beside the filesystem broker: the embedded default's processes share a
    folder, not a Redis."""

    def __init__(self, folder: Path, ttl: float = FLAG_TTL_SECONDS) -> None:
        self.folder = folder
        self.ttl = ttl
        folder.mkdir(parents=True, exist_ok=True)

    def claim(self, names: list[str]) -> list[str]:
        return [name for name in names if self._claim(self.folder / name)]

    def _claim(self, flag: Path) -> bool:
        if self._create(flag):
            return True
        try:
            stale = time.time() - flag.stat().st_mtime > self.ttl
        except FileNotFoundError:
            stale = True  # released between our two looks
        if not stale:
            return False
        flag.unlink(missing_ok=True)
        return self._create(flag)

    @staticmethod
    def _create(flag: Path) -> bool:
        try:
            os.close(os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            return False

    def release(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)


def make_gate(settings: Settings) -> WakeupGate:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return RedisGate(settings.broker_url)
    return FileGate(settings.home / "wakeups")


class Delivery:
    def __init__(self, celery: object, gate: WakeupGate) -> None:
        self.celery = celery
        self.gate = gate

    def wake(self, projections: Iterable[str], position: int) -> None:
        """Enqueue a catch-up for each projection that has none waiting; never raises."""
        names = list(projections)
        if not names:
            return
        try:
            for name in self.gate.claim(names):
                self.enqueue(name, position)
        except Exception as error:
            log.warning("could not wake projections %s: %s", names, error)

    def enqueue(self, name: str, position: int, eta: dt.datetime | None = None) -> None:
        """The one place a catch-up message is built (Flower shows it by its shadow name)."""
        self.celery.send_task(  # type: ignore[attr-defined]
            "tally.catch_up",
            args=(name, position),
            eta=eta,
            retry=False,
            shadow=f"catch_up {name} to {position}",
        )


class BackgroundWaker:
    """Wakes projections from a thread of the API process, so that a command's response
    never waits on the broker; wakeups that pile up meanwhile are coalesced into one.

    A wakeup still in this queue when the process dies is lost, like one sent during a
    broker outage: beat's sweep catches up within a second.
    """

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self._queue: queue.SimpleQueue[tuple[list[str], int]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self, projections: Iterable[str], position: int) -> None:
        self._queue.put((list(projections), position))
        with self._lock:
            # Started on first use, in the serving process (gunicorn forks after import).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tally-waker", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            names, position = self._queue.get()
            pending = set(names)
            while True:
                try:
                    more, later = self._queue.get_nowait()
                except queue.Empty:
                    break
                pending.update(more)
                position = max(position, later)
            self.delivery.wake(sorted(pending), position)

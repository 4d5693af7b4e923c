"""Delivery after commit: wake the projections a command's events affect.

One flag per projection says "a catch-up task is queued or running, and will read the head of
the log before it ends". A command enqueues a catch-up only when it is the one that sets the
flag. The task keeps the flag while it works and clears it only when a batch found nothing to
do; then it reads the head once more, and goes on (setting the flag again) if anything
arrived. So the queue holds at most one task per projection however fast commands arrive, no
task is spent finding another one at work, and no event is left behind:

- a command that finds the flag set committed before the flag's task clears it, and that
  task reads the head after clearing it, so it sees the command's events;
- a command that sets the flag enqueues a task itself.

Anything that clears the flag early (a duplicate task that found the checkpoint locked, the
flag's expiry) costs extra tasks, never a lost event. The flag expires after FLAG_TTL_SECONDS
so that a task lost with a dead worker cannot hold it forever; beat's sweep covers that gap,
and a broker outage too. Enqueueing never fails a command.
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

    def hold(self, name: str) -> None:
        """Set the projection's flag, or give it a fresh expiry: a task is at work."""

    def release(self, name: str) -> None:
        """Clear the projection's flag: its task has nothing left to do."""


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

    def hold(self, name: str) -> None:
        self._redis.set(f"tally:pending:{name}", 1, px=self._ttl_ms)

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

    def hold(self, name: str) -> None:
        (self.folder / name).touch()

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

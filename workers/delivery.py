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

When a command concerns several projections, one flag and one task serve them all: the
group's (`GROUP`), whose task, `tally.catch_up_group`, catches every registered projection up
together (readmodels/catchup/group.py), reading the log once per batch. The same protocol
holds for it, the group's head compared with the checkpoints its batches held. A projection
with an event parked or a failure being retried stays out of the group's batches: at the end
of its turn the group task wakes it alone (its own flag and `tally.catch_up` task), as are a
single projection's wakeups, `min_position`'s and failure retries.

`Delivery.wake` is the command's side of the protocol, `catch_up_turn` and
`catch_up_group_turn` the tasks'.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import redis
from sqlalchemy.exc import OperationalError

from domain.settings import Settings
from domain.store.db import Databases
from readmodels.catchup import checkpoints, failures, group, loop
from readmodels.projection import Projection
from readmodels.registry import PROJECTIONS

log = logging.getLogger(__name__)

FLAG_TTL_SECONDS = 3.0
GROUP = "group"  # the group's flag, beside the projections' own
GROUP_TASK = "tally.catch_up_group"


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


class TaskSender(Protocol):
    def send_task(self, name: str, args: tuple[Any, ...], **options: Any) -> Any:
        """Queue the task by its name (Celery's `send_task`)."""


class Delivery:
    def __init__(self, celery: TaskSender, gate: WakeupGate) -> None:
        self.celery = celery
        self.gate = gate

    def wake(self, projections: Iterable[str], position: int) -> None:
        """Enqueue the group's catch-up when several projections are named, else the one
        projection's, unless one is waiting already; never raises."""
        names = list(projections)
        if len(names) < 2:
            self.wake_each(names, position)
            return
        try:
            if self.gate.claim([GROUP]):
                self.enqueue_group(position)
        except Exception as error:
            log.warning("could not wake projections %s: %s", names, error)

    def wake_each(self, projections: Iterable[str], position: int) -> None:
        """Enqueue a catch-up for each projection that has none waiting; never raises."""
        names = list(projections)
        if not names:
            return
        try:
            for name in self.gate.claim(names):
                self.enqueue(name, position)
        except Exception as error:
            log.warning("could not wake projections %s: %s", names, error)

    def enqueue_group(self, position: int) -> None:
        self.celery.send_task(
            GROUP_TASK, args=(position,), retry=False, shadow=f"catch_up group to {position}"
        )

    def enqueue(self, name: str, position: int, eta: dt.datetime | None = None) -> None:
        """The one place a catch-up message is built (Flower shows it by its shadow name)."""
        self.celery.send_task(
            "tally.catch_up",
            args=(name, position),
            eta=eta,
            retry=False,
            shadow=f"catch_up {name} to {position}",
        )

    def hand_over(self, name: str, position: int) -> None:
        """A task's time slice is over with work left: queue the next task, which keeps the
        flag (`name` is GROUP for the group's task)."""
        try:
            self.gate.hold(name)
            if name == GROUP:
                self.enqueue_group(position)
            else:
                self.enqueue(name, position)
        except Exception as error:
            log.warning("could not queue the next catch-up of %s: %s", name, error)
            _quietly(self.gate.release, name)


def catch_up_turn(
    delivery: Delivery,
    databases: Databases,
    projection: Projection,
    position: int,
    policy: failures.RetryPolicy,
    linger: float,
) -> int:
    """A catch-up task's turn: bring the projection to the head of the log within a time
    slice, holding its flag while at work; returns the checkpoint's position. An
    OperationalError (the database unreachable) propagates, the flag released, for the task
    to retry."""
    name = projection.name

    def turn(time_slice: float) -> loop.CatchUpResult:
        return loop.catch_up(
            databases, projection, policy=policy, time_slice=time_slice, linger=linger
        )

    result, finished = _holding_the_flag(delivery.gate, name, databases, turn)
    if not finished:
        _after_the_slice(delivery, result, position)
    return result.position


def catch_up_group_turn(
    delivery: Delivery,
    databases: Databases,
    position: int,
    policy: failures.RetryPolicy,
    linger: float,
) -> int:
    """The group task's turn: catch_up_turn for every registered projection together, then
    schedule the retries its fallbacks recorded and wake alone the projections left out of
    its batches (parked, or a retry due)."""
    projections = tuple(PROJECTIONS.values())
    results: list[group.GroupResult] = []

    def turn(time_slice: float) -> group.GroupResult:
        result = group.catch_up_group(
            databases, projections, policy=policy, time_slice=time_slice, linger=linger
        )
        results.append(result)
        return result

    result, finished = _holding_the_flag(delivery.gate, GROUP, databases, turn)
    for retry in (retry for each in results for retry in each.retries):
        # Lost (broker down, worker killed), the retry is still made by beat's sweep.
        with contextlib.suppress(Exception):
            delivery.enqueue(retry.projection, retry.position, eta=retry.at)
    if any(each.apart for each in results):
        names = frozenset(p.name for p in projections)
        delivery.wake_each(checkpoints.apart_from_group(databases, names), position)
    if result.busy:
        # SQLite's write lock is held: by a command, which wakes us after, or a catch-up,
        # which reads the head again before it stops.
        _quietly(delivery.gate.release, GROUP)
    elif not finished:
        delivery.hand_over(GROUP, result.position)
    return result.position


def _after_the_slice(delivery: Delivery, result: loop.CatchUpResult, position: int) -> None:
    """Work is left: let another worker's task finish it, schedule the failed event's retry,
    or queue the next task."""
    name = result.projection
    if result.busy:
        # Another worker holds the checkpoint; it reads the head again before it stops.
        _quietly(delivery.gate.release, name)
    elif result.retry_at is not None:
        _quietly(delivery.gate.release, name)
        if result.scheduled_retry:
            # Lost (broker down, worker killed), the retry is still made by beat's sweep.
            with contextlib.suppress(Exception):
                delivery.enqueue(name, position, eta=result.retry_at)
    else:
        delivery.hand_over(name, result.position)


class Caught(Protocol):
    @property
    def position(self) -> int: ...

    @property
    def caught_up(self) -> bool: ...


Result = TypeVar("Result", bound=Caught)


def _holding_the_flag(
    gate: WakeupGate, flag: str, databases: Databases, turn: Callable[[float], Result]
) -> tuple[Result, bool]:
    """_until_idle with the flag held; an OperationalError (the database unreachable)
    propagates, the flag released, for the task to retry."""
    _quietly(gate.hold, flag)
    try:
        return _until_idle(gate, flag, databases, turn)
    except OperationalError:
        _quietly(gate.release, flag)
        raise


def _until_idle(
    gate: WakeupGate, flag: str, databases: Databases, turn: Callable[[float], Result]
) -> tuple[Result, bool]:
    """Catch-ups (`turn`, given the time left) until the head, for one time slice; True when
    the flag is released with nothing left to do, False when the slice ended first (or the
    checkpoint was busy, or a failure waits for its retry)."""
    deadline = time.monotonic() + loop.TIME_SLICE_SECONDS
    while True:
        result = turn(max(0.0, deadline - time.monotonic()))
        if not result.caught_up:
            return result, False
        _quietly(gate.release, flag)
        # Commands committed after the last batch, finding the flag still set: take the flag
        # back and go on, unless one of them set it first (and enqueued a task).
        if checkpoints.head_position(databases) <= result.position:
            return result, True
        if not _take_flag(gate, flag):
            return result, True
        if time.monotonic() >= deadline:
            return result, False


def _quietly(action: Callable[[str], None], projection: str) -> None:
    """Flag upkeep never fails a task: a flag left set expires, one cleared costs a task."""
    try:
        action(projection)
    except Exception as error:
        log.warning("wakeup flag of %s: %s", projection, error)


def _take_flag(gate: WakeupGate, projection: str) -> bool:
    """Set the flag if it is clear; when the gate is unreachable, keep working regardless."""
    try:
        return bool(gate.claim([projection]))
    except Exception as error:
        log.warning("wakeup flag of %s: %s", projection, error)
        return True


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

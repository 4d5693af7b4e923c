"""The embedded default's broker: kombu's filesystem transport, made safe for several processes.

kombu's stock `filesystem://` transport (kombu 5.7; upstream report celery/kombu#1551) creates
a message file under its final name and only then writes it, while a consumer in another
process may already have renamed and read it, empty or half-written: the worker dies of a
JSONDecodeError. It moves a claimed file to the system temp folder (maybe another filesystem,
so a copy) and deletes it on read, so a process killed after the claim loses the message. It
keeps every fanout binding forever, so each event is still written for consumers long gone.

This transport keeps kombu's channel and changes how a message lives on disk, all under one
folder (`.tally/broker/`):

    tmp/                              a message being written (no consumer looks here)
    queues/<queue>/<time>-<id>.msg    ready, in publishing order
    claims/<owner>/<queue>/<name>     delivered to a live consumer, kept until acknowledged
    claims/<owner>.lock               held (POSIX lock) by the owner for its lifetime
    control/<exchange>.exchange       the bindings, as kombu keeps them
    control/<queue>.queue             a queue's declared arguments; its mtime is its last use
    unreadable/                       files that did not decode, kept for inspection

- A message is published atomically: written under tmp/, then renamed into its queue.
- A consumer claims a message by renaming it into its own claims folder, and deletes it only
  when the message is acknowledged (at once for consumers that do not acknowledge). A claim
  whose owner has died, killed or not, is renamed back into its queue by the next consumer
  that looks, so a delivery is at least once; the projection engine makes a repeat harmless.
- An unreadable file is logged, counted and moved to unreadable/; consuming goes on.
- The queue arguments that Celery declares (`x-message-ttl`, `x-expires`: its event and
  reply queues have both) are honoured: expired messages are dropped when met, and a queue
  unused for longer than its `x-expires` is unbound and deleted, so the folder stays bounded
  after Flower or a `celery inspect` goes away.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from queue import Empty
from typing import Any

from amqp.protocol import queue_declare_ok_t
from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.transport.base import to_rabbitmq_queue_arguments
from kombu.transport.virtual.base import BrokerState
from kombu.utils.json import dumps, loads
from prometheus_client import Counter

log = logging.getLogger(__name__)

SCHEME = "tallyfs"
DEFAULT_FOLDER = ".tally/broker"
_STATES: dict[str, BrokerState] = {}
NAME_PATTERN = re.compile(r"\A[A-Za-z0-9._@-]+\Z")
MAINTENANCE_INTERVAL_SECONDS = 2.0
TOUCH_INTERVAL_SECONDS = 0.5
DRAIN_SLICE_SECONDS = 0.2

UNREADABLE_MESSAGES = Counter(
    "tally_broker_unreadable_messages",
    "Messages of the embedded broker that could not be decoded and were set aside",
    ["queue"],
)


@dataclass(frozen=True)
class QueueArguments:
    message_ttl: float | None = None
    expires: float | None = None

    @classmethod
    def from_declared(cls, arguments: dict[str, Any] | None) -> QueueArguments:
        arguments = arguments or {}

        def seconds(key: str) -> float | None:
            value = arguments.get(key)
            return None if value is None else float(value) / 1000

        return cls(message_ttl=seconds("x-message-ttl"), expires=seconds("x-expires"))


@contextlib.contextmanager
def _locked(path: Path, mode: int) -> Iterator[Any]:
    """A file opened for update (created when missing) under a whole-file flock."""
    with path.open("a+b", buffering=0) as handle:
        fcntl.flock(handle.fileno(), mode)
        try:
            handle.seek(0)
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _valid_name(name: str) -> str:
    if not NAME_PATTERN.match(name) or not name.strip("."):
        raise ChannelError(f"Invalid queue name for the filesystem broker: {name!r}")
    return name


class Owner:
    """A process's claims folder, with a lock that tells other processes it is alive.

    POSIX record locks belong to a process: they are not inherited by forked children, they
    vanish when the process ends however it ends, and a process never conflicts with its own.
    So there is one owner per process, shared by all its channels, and a lock that another
    process can take means its owner is gone.
    """

    def __init__(self, claims: Path) -> None:
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.folder = claims / self.name
        # Locked under a temporary name, then renamed, so no one sees it unlocked; the folder
        # comes last, so a folder always has its lock.
        pending = claims / f".{self.name}.lock"
        # A bare descriptor, open for the life of the process (the lock lives with it).
        self._lock_fd = os.open(pending, os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.lockf(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(pending, claims / f"{self.name}.lock")
        self.folder.mkdir()
        self.pid = os.getpid()


_owners: dict[Path, Owner] = {}
_owners_lock = threading.Lock()


def process_owner(claims: Path) -> Owner:
    with _owners_lock:
        owner = _owners.get(claims)
        if owner is None or owner.pid != os.getpid():
            owner = _owners[claims] = Owner(claims)
        return owner


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic publishing, claims kept until acknowledged,
    recovery of a dead consumer's claims, and queue expiry."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready: dict[str, deque[str]] = {}
        self._claimed: dict[str, Path] = {}
        self._no_ack_queues: set[str] = set()
        self._arguments: dict[str, QueueArguments] = {}
        self._touched: dict[str, float] = {}
        self._next_maintenance = 0.0

    @cached_property
    def root(self) -> Path:
        root = Path(self.transport_options.get("broker_folder", DEFAULT_FOLDER))
        for folder in ("tmp", "queues", "claims", "control", "unreadable"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        return root

    @property
    def control_folder(self) -> Path:
        return self.root / "control"

    def _queue_folder(self, queue: str) -> Path:
        return self.root / "queues" / _valid_name(queue)

    def _owner_folder(self) -> Path:
        return process_owner(self.root / "claims").folder

    # Publishing

    def _put(  # type: ignore[override]  # kombu's filesystem channel says payload, its base message
        self, queue: str, payload: Any, **kwargs: Any
    ) -> None:
        folder = self._queue_folder(queue)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.msg"
        pending = self.root / "tmp" / name
        try:
            pending.write_bytes(dumps(payload).encode())
            try:
                os.replace(pending, folder / name)
            except FileNotFoundError:
                folder.mkdir(parents=True, exist_ok=True)
                os.replace(pending, folder / name)
        except OSError as error:
            pending.unlink(missing_ok=True)
            raise ChannelError(f"Cannot publish to queue {queue!r}: {error}") from error

    def _put_fanout(self, exchange: str, payload: Any, routing_key: str, **kwargs: Any) -> None:
        for binding in self.get_table(exchange):
            if not self._expired(binding.queue):
                self._put(binding.queue, payload, **kwargs)

    # Consuming

    def basic_consume(
        self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any
    ) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_get(queue, no_ack, **kwargs)

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """The next message of the queue, claimed; `timeout` is unused (kombu polls)."""
        self._touch(queue)
        self._maintain()
        ready = self._ready.get(queue)
        if not ready:
            ready = self._ready[queue] = deque(self._listing(queue))
        ttl = self._queue_arguments(queue).message_ttl
        while ready:
            name = ready.popleft()
            claimed = self._claim(queue, name)
            if claimed is None:
                continue
            if ttl is not None and _age(name) > ttl:
                claimed.unlink(missing_ok=True)
                continue
            payload = self._read(claimed)
            if payload is None:
                continue
            if queue in self._no_ack_queues:
                claimed.unlink(missing_ok=True)
            else:
                self._claimed[payload["properties"]["delivery_tag"]] = claimed
            return payload
        raise Empty()

    def _listing(self, queue: str) -> list[str]:
        try:
            names = os.listdir(self._queue_folder(queue))
        except FileNotFoundError:
            return []
        return sorted(name for name in names if name.endswith(".msg"))

    def _claim(self, queue: str, name: str) -> Path | None:
        folder = self._owner_folder() / queue
        target = folder / name
        try:
            os.rename(self._queue_folder(queue) / name, target)
        except FileNotFoundError:
            if not folder.exists():
                folder.mkdir(parents=True, exist_ok=True)
                return self._claim(queue, name)
            return None  # another consumer took it
        return target

    def _read(self, claimed: Path) -> Any:
        try:
            payload = loads(claimed.read_bytes())
            payload["properties"]["delivery_tag"]
        except (ValueError, KeyError, TypeError) as error:
            UNREADABLE_MESSAGES.labels(claimed.parent.name).inc()
            aside = self.root / "unreadable" / claimed.name
            log.error("broker: unreadable message %s set aside as %s: %r", claimed, aside, error)
            os.replace(claimed, aside)
            return None
        return payload

    def _forget_claim(self, delivery_tag: str) -> None:
        claimed = self._claimed.pop(delivery_tag, None)
        if claimed is not None:
            claimed.unlink(missing_ok=True)

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self._forget_claim(delivery_tag)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        # A requeue publishes the message again (kombu's _restore) before the claim goes.
        super().basic_reject(delivery_tag, requeue)
        self._forget_claim(delivery_tag)

    def _restore(self, message: Any) -> None:
        super()._restore(message)
        self._forget_claim(message.delivery_tag)

    def _purge(self, queue: str) -> int:
        count = 0
        for name in self._listing(queue):
            with contextlib.suppress(FileNotFoundError):
                (self._queue_folder(queue) / name).unlink()
                count += 1
        self._ready.pop(queue, None)
        return count

    def _size(self, queue: str) -> int:
        return len(self._listing(queue))

    # Declarations, bindings and expiry

    def queue_declare(self, queue: str | None = None, passive: bool = False, **kwargs: Any) -> Any:
        """A passive declaration (a depth probe, say) only looks: it writes no declaration."""
        if passive and queue:
            if not self._queue_folder(queue).is_dir():
                raise ChannelError(f"NOT_FOUND - no queue {queue!r}")
            return queue_declare_ok_t(queue, self._size(queue), 0)
        return super().queue_declare(queue, passive, **kwargs)

    def prepare_queue_arguments(self, arguments: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        prepared: dict[str, Any] = to_rabbitmq_queue_arguments(arguments, **kwargs)
        return prepared

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        self._queue_folder(queue).mkdir(parents=True, exist_ok=True)
        arguments = QueueArguments.from_declared(kwargs.get("arguments"))
        self._arguments[queue] = arguments
        declaration = self.control_folder / f"{queue}.queue"
        pending = self.root / "tmp" / f"{queue}.{uuid.uuid4().hex}.queue"
        pending.write_text(json.dumps(arguments.__dict__))
        os.replace(pending, declaration)

    def _queue_arguments(self, queue: str) -> QueueArguments:
        known = self._arguments.get(queue)
        if known is None:
            try:
                stored = json.loads((self.control_folder / f"{queue}.queue").read_text())
                known = QueueArguments(**stored)
            except (FileNotFoundError, ValueError, TypeError):
                known = QueueArguments()
            self._arguments[queue] = known
        return known

    def _touch(self, queue: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(queue, 0.0) < TOUCH_INTERVAL_SECONDS:
            return
        self._touched[queue] = now
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.control_folder / f"{queue}.queue")

    def _expired(self, queue: str) -> bool:
        expires = self._queue_arguments(queue).expires
        if expires is None:
            return False
        try:
            idle = time.time() - (self.control_folder / f"{queue}.queue").stat().st_mtime
        except FileNotFoundError:
            return True
        return idle > expires

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:
        file = self._exchange_file(exchange)
        if not file.exists():
            return []
        with _locked(file, fcntl.LOCK_SH) as handle:
            content = handle.read()
        return [filesystem.exchange_queue_t(*row) for row in json.loads(content or b"[]")]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(self._exchange_file(exchange), lambda rows: [binding, *rows])

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(
            self._exchange_file(exchange), lambda rows: [row for row in rows if row != binding]
        )
        self._drop_queue(queue)

    def _drop_queue(self, queue: str) -> None:
        self._purge(queue)
        (self.control_folder / f"{queue}.queue").unlink(missing_ok=True)
        self._arguments.pop(queue, None)
        with contextlib.suppress(OSError):
            self._queue_folder(queue).rmdir()

    @staticmethod
    def _update_table(file: Path, change: Any) -> None:
        with _locked(file, fcntl.LOCK_EX) as handle:
            rows = [filesystem.exchange_queue_t(*row) for row in json.loads(handle.read() or b"[]")]
            changed = list(dict.fromkeys(change(rows)))
            if changed != rows:
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(changed).encode())

    def _maintain(self) -> None:
        """Every few seconds: return dead consumers' claims, delete expired queues."""
        now = time.monotonic()
        if now < self._next_maintenance:
            return
        self._next_maintenance = now + MAINTENANCE_INTERVAL_SECONDS
        own = process_owner(self.root / "claims").name
        self._recover_claims(own)
        self._delete_expired_queues()

    def _recover_claims(self, own: str) -> None:
        claims = self.root / "claims"
        for lock_path in claims.glob("*.lock"):
            owner = lock_path.name.removeprefix(".").removesuffix(".lock")
            if owner == own:
                continue
            try:
                handle = lock_path.open("rb+")
            except FileNotFoundError:
                continue
            with handle:
                try:
                    fcntl.lockf(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its owner is alive
                returned = self._return_claims(claims / owner)
                lock_path.unlink(missing_ok=True)
            if returned:
                log.warning("broker: returned %d messages claimed by %s", returned, owner)

    def _return_claims(self, folder: Path) -> int:
        returned = 0
        for queue_folder in folder.glob("*"):
            for claimed in queue_folder.glob("*.msg"):
                target = self._queue_folder(queue_folder.name)
                target.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.replace(claimed, target / claimed.name)
                    returned += 1
            with contextlib.suppress(OSError):
                queue_folder.rmdir()
        with contextlib.suppress(OSError):
            folder.rmdir()
        return returned

    def _delete_expired_queues(self) -> None:
        for declaration in self.control_folder.glob("*.queue"):
            queue = declaration.name.removesuffix(".queue")
            self._arguments.pop(queue, None)
            if not self._expired(queue):
                continue
            for exchange_file in self.control_folder.glob("*.exchange"):
                self._update_table(
                    exchange_file, lambda rows, q=queue: [row for row in rows if row.queue != q]
                )
            self._drop_queue(queue)


def _age(name: str) -> float:
    return (time.time_ns() - int(name.partition("-")[0])) / 1e9


def _worker_stopping() -> bool:
    from celery.worker import state

    flags = (state.should_stop, state.should_terminate)
    # As celery.worker.state.maybe_shutdown reads them: a flag holds an exit code, maybe 0.
    return any(flag is not None and flag is not False for flag in flags)


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = SCHEME
    driver_name = SCHEME

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        # kombu caches declared exchanges and bindings in one state per process (the stock
        # transport's `global_state`) and skips a bind it has seen: one state per broker
        # folder, so that a process using two folders binds in each.
        folder = client.transport_options.get("broker_folder", DEFAULT_FOLDER)
        self.state = _STATES.setdefault(str(Path(folder).resolve()), BrokerState())

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Polls in short slices. A Celery worker's consumer loop drains with a 2 s timeout and
        looks at its shutdown flags only in between, so a worker asked to stop would sit out
        the rest of the 2 s; between slices this looks at those flags itself."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = DRAIN_SLICE_SECONDS if deadline is None else deadline - time.monotonic()
            try:
                return super().drain_events(
                    connection, timeout=max(min(remaining, DRAIN_SLICE_SECONDS), 0), **kwargs
                )
            except TimeoutError:
                if _worker_stopping() or (deadline is not None and time.monotonic() >= deadline):
                    raise


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")

"""A Tally stack for tests: databases migrated and emptied, a broker, and real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import redis
from sqlalchemy import MetaData, text

from cli import processes
from domain.policy import Policy
from domain.settings import Settings
from domain.store import tables as write_tables
from domain.store.db import Databases, is_sqlite
from migrations import upgrade
from readmodels import tables as read_tables
from readmodels.catchup.checkpoints import ensure_checkpoints

ROOT = Path(__file__).resolve().parents[2]
# The `tally` command, as a test runs it.
TALLY = [sys.executable, "-m", "cli"]

# Tests log time on fixed dates in late 2026 and 2027, whatever today is: the future rule
# has tests of its own, with today's date.
TEST_POLICY = Policy(max_future_days=3650)


@dataclass
class Stack:
    name: str
    settings: Settings
    databases: Databases
    workdir: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
        return env | {
            "TALLY_DATABASE_URL": self.settings.database_url,
            "TALLY_READ_DATABASE_URL": self.settings.read_database_url,
            "TALLY_BROKER_URL": self.settings.broker_url,
            "TALLY_HOME_DIR": str(self.workdir),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "TALLY_MAX_FUTURE_DAYS": str(TEST_POLICY.max_future_days),
        }

    def reset(self) -> None:
        """Empty every table, reset checkpoints, and drop queued tasks."""
        for engine, metadata in (
            (self.databases.write, write_tables.metadata),
            (self.databases.read, read_tables.metadata),
        ):
            _truncate(engine, metadata)
        ensure_checkpoints(self.databases)
        if self.settings.broker_url.startswith("redis://"):
            redis.Redis.from_url(self.settings.broker_url).flushdb()
        else:
            # A previous test's app may still be publishing from its waker thread: a message
            # found under tmp/ may be in a queue by the time it is unlinked.
            for path in self.settings.broker_folder.glob("**/*.msg"):
                path.unlink(missing_ok=True)


def _truncate(engine, metadata: MetaData) -> None:  # type: ignore[no-untyped-def]
    names = [table.name for table in metadata.sorted_tables]
    with engine.begin() as conn:
        if is_sqlite(engine):
            for name in reversed(names):
                conn.execute(text(f'DELETE FROM "{name}"'))
            conn.execute(text("DELETE FROM sqlite_sequence"))
        else:
            quoted = ", ".join(f'"{name}"' for name in names)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


def build_stack(
    name: str,
    database_url: str,
    broker_url: str,
    workdir: Path,
    read_database_url: str | None = None,
) -> Stack:
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(
        {
            "TALLY_DATABASE_URL": database_url,
            "TALLY_READ_DATABASE_URL": read_database_url or database_url,
            "TALLY_BROKER_URL": broker_url,
            "TALLY_HOME_DIR": str(workdir),
            "TALLY_SYNC_TIMEOUT": "2",
            "TALLY_MIN_POSITION_TIMEOUT": "5",
            "TALLY_MAX_FUTURE_DAYS": str(TEST_POLICY.max_future_days),
        }
    )
    databases = Databases(settings.database_url, settings.read_database_url)
    for engine in {databases.write, databases.read}:
        if not is_sqlite(engine):
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(databases.write, "write")
    upgrade(databases.read, "read")
    ensure_checkpoints(databases)
    return Stack(name=name, settings=settings, databases=databases, workdir=workdir)


class Process:
    """A child process with its output in a file, stopped (or killed) by the test."""

    started: ClassVar[list[Process]] = []

    def __init__(self, name: str, command: list[str], env: dict[str, str], logdir: Path) -> None:
        Process.started.append(self)
        self.name = name
        self.log_path = logdir / f"{name}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=env["TALLY_HOME_DIR"],
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, marker: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.output():
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not print {marker!r}:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no chance to ack, release or clean up (the group
        may outlive its leader: gunicorn's workers, a worker's pool)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self._log.close()

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def start_worker(stack: Stack, *extra: str, env: dict[str, str] | None = None) -> Process:
    """`tally worker`'s process, with one task at a time (the solo pool), under a name of its
    own; `extra` are more celery worker options."""
    options = ["--pool", "solo", "--without-mingle", "--without-gossip"]
    options += ["--hostname", f"test-{time.monotonic_ns()}@%h", *extra]
    launch = processes.worker(stack.settings, options)
    worker = Process("worker", launch.argv, stack.env() | (env or {}), stack.workdir)
    worker.wait_for_output("ready.")
    return worker


def start_beat(stack: Stack) -> Process:
    """`tally beat`'s process, with a schedule file of its own (a fresh schedule each time)."""
    launch = processes.beat(stack.settings, schedule=stack.workdir / f"beat-{time.monotonic_ns()}")
    beat = Process("beat", launch.argv, stack.env(), stack.workdir)
    beat.wait_for_output("beat: Starting")
    return beat


def descendants(pid: int) -> set[int]:
    """Every live process below pid, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


def wait_until(  # type: ignore[no-untyped-def]
    predicate,
    timeout: float = 20,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition not met in time",
):
    """Poll predicate until it is truthy; on timeout fail with message (called then, if a
    function, so that a process's output shows what it did while the test waited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(interval)

"""A PostgreSQL server owned by one test, on its own port, that the test stops and starts."""

from __future__ import annotations

import contextlib
import gc
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

from tests.support.http import free_port
from tests.support.services import unavailable


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """initdb'd in a temporary folder and run as the postgres user (PostgreSQL refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bin = _binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="tally-pg-"))
        self.data = self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=60)

    def create(self) -> None:
        if self.bin is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
            unavailable("a PostgreSQL server to own", FileNotFoundError("pg_ctl/runuser"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        result = self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        )
        assert result.returncode == 0, result.stderr

    def start(self) -> None:
        result = self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "start",
        )
        assert result.returncode == 0, result.stderr + result.stdout

    def stop(self) -> None:
        """Stop at once, as a crash would (no checkpoint, connections cut)."""
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
        )

    def __enter__(self) -> PostgresServer:
        self.create()
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
        self.close_leftover_connections()
        time.sleep(0.2)
        shutil.rmtree(self.folder, ignore_errors=True)

    def close_leftover_connections(self) -> None:
        """Close the client connections this server's crash left behind: a pool drops a
        broken connection without psycopg marking it closed, and it would warn when freed."""
        gc.collect()
        for thing in gc.get_objects():
            if isinstance(thing, psycopg.Connection) and not thing.closed:
                with contextlib.suppress(Exception):
                    if thing.info.port == self.port:
                        thing.close()

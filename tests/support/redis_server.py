"""A redis-server owned by one test, on its own port, that the test can stop and restart."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from tests.support.http import free_port
from tests.support.services import unavailable
from tests.support.stack import Stack


class RedisServer:
    def __init__(self, workdir: Path, acl_file: Path | None = None, credentials: str = "") -> None:
        """`credentials` ("user:password") are what the URL and the start-up ping use; an
        `acl_file` gives the server its users."""
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("redis-server")
        self.acl_file = acl_file
        self.credentials = credentials

    @property
    def url(self) -> str:
        login = f"{self.credentials}@" if self.credentials else ""
        return f"redis://{login}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.binary is None:
            unavailable("redis-server", FileNotFoundError("redis-server is not installed"))
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *(["--aclfile", str(self.acl_file)] if self.acl_file else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server outright, as a crash or an outage would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stack_for(self, base: Stack) -> Stack:
        settings = base.settings.with_changes(broker_url=self.url)
        return dataclasses.replace(base, settings=settings)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

"""`tally dev`: the whole stack on the embedded default, in the foreground."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from sqlalchemy import select

from api.auth import stored_dev_token
from api.cli import db_upgrade, prepare_metrics_folder
from domain.settings import Settings
from domain.store import tables
from domain.store.db import Databases

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 10


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM us if `tally dev` itself dies (even by SIGKILL)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _admin_token(settings: Settings) -> str:
    """TALLY_ADMIN_TOKEN, or the dev token kept in `.tally/`: the API makes it the first
    admin's environment token, so every start prints the same one."""
    return settings.admin_token or stored_dev_token(settings.ensure_home())


def _is_empty(settings: Settings) -> bool:
    databases = Databases(settings.database_url, settings.read_database_url)
    try:
        with databases.write.connect() as conn:
            return conn.execute(select(tables.projects.c.id).limit(1)).first() is None
    finally:
        databases.dispose()


def run_dev(settings: Settings, *, port: int, demo: bool) -> int:
    print("tally dev: applying migrations ...", flush=True)
    db_upgrade(settings)
    prepare_metrics_folder(settings, clean=True)
    token = _admin_token(settings)
    env = os.environ | {"TALLY_ADMIN_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    # Without an admin yet, the API process creates one with this token at start-up.
    python = sys.executable
    commands = {
        "api": [
            python,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
            "api:create_app()",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-E",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "tally-dev@%h",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "workers",
            "beat",
            "--loglevel",
            "WARNING",
            "-s",
            str(settings.home / "celerybeat-schedule"),
        ],
    }
    children = {
        name: subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
        for name, command in commands.items()
    }
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if demo and _wait_for_api(port, children) and _is_empty(settings):
            from api.cli import demo_data

            counts = demo_data(settings, projects=12, entries=400)
            print(f"tally dev: demo data created: {counts}", flush=True)
        _print_banner(port, token, settings)
        while not stopping:
            exited = {name: child.poll() for name, child in children.items()}
            failed = {name: code for name, code in exited.items() if code is not None}
            if failed:
                print(f"tally dev: {failed} exited; stopping the others", flush=True)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        _stop_all(children)


def _wait_for_api(port: int, children: dict[str, subprocess.Popen[bytes]]) -> bool:
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if children["api"].poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _print_banner(port: int, token: str, settings: Settings) -> None:
    base = f"http://127.0.0.1:{port}"
    print(
        f"""
Tally is running on the embedded default (database {settings.database_url}).
  API docs:     {base}/docs        OpenAPI: {base}/openapi.json
  Readiness:    {base}/ready
  Projections:  {base}/api/v1/ops/projections   (or: tally projections status)
  Admin token:  {token}
  Try:          curl -H 'Authorization: Bearer {token}' {base}/api/v1/ops/projections
  Flower:       see README.md, "Flower" (a login, on 127.0.0.1 only)
Press Ctrl-C to stop api, worker and beat.
""",
        flush=True,
    )


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children.values():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    print("tally dev: stopped", flush=True)

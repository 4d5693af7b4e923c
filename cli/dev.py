"""`tally dev`: the whole stack on the embedded default, in the foreground."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path
from types import FrameType

from cli import processes
from cli.databases import db_upgrade, has_no_projects
from cli.demo_data import demo_data
from cli.processes import ApiOptions, Launch
from domain.settings import Settings
from domain.store.tokens import new_token

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 1.0

DEV_TOKEN_FILE = "dev-token"


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM us if `tally dev` itself dies (even by SIGKILL)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _admin_token(settings: Settings) -> str:
    """TALLY_ADMIN_TOKEN, or the dev token kept in `.tally/`: the API makes it the first
    admin's environment token, so every start prints the same one."""
    return settings.admin_token or stored_dev_token(settings.ensure_home())


class _Stop(Exception):
    """Ctrl-C or SIGTERM: leave whatever `tally dev` is doing and stop its children."""


def run_dev(settings: Settings, *, port: int, demo: bool) -> int:
    print("tally dev: applying migrations ...", flush=True)
    db_upgrade(settings)
    processes.prepare_metrics_folder(processes.metrics_folder(settings, os.environ), clean=True)
    token = _admin_token(settings)
    # Without an admin yet, the API process creates one with this token at start-up.
    overrides = {"TALLY_ADMIN_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    children: dict[str, subprocess.Popen[bytes]] = {}

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise _Stop

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name, launch in dev_processes(settings, port).items():
            # A session of its own: the child's own children (gunicorn's workers, Celery's
            # pool) are stopped with it, and a terminal's Ctrl-C reaches only `tally dev`.
            children[name] = subprocess.Popen(
                launch.argv,
                env=launch.environment(os.environ) | overrides,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )
        if demo and _wait_for_api(port, children) and has_no_projects(settings):
            counts = demo_data(settings, projects=12, entries=400)
            print(f"tally dev: demo data created: {counts}", flush=True)
        _print_banner(port, token, settings)
        return _watch(children)
    except _Stop:
        return 0
    finally:
        _stop_all(children)


def dev_processes(settings: Settings, port: int) -> dict[str, Launch]:
    """The api, a worker and beat, as `tally serve`, `worker` and `beat` run them, but for
    a quick stop and a quiet terminal."""
    return {
        # gunicorn's workers get a second to finish their requests, not thirty.
        "api": processes.api(settings, ApiOptions(port=port, graceful_timeout=1)),
        # Threads, not prefork: prefork's pool takes about 2 s to stop, threads well under
        # one; a single-user embedded stack needs no process isolation.
        "worker": processes.worker(settings, ["--pool", "threads", "--hostname", "tally-dev@%h"]),
        "beat": processes.beat(settings, ["--loglevel", "WARNING"]),
    }


def _watch(children: dict[str, subprocess.Popen[bytes]]) -> int:
    """Until a child exits: then 1 (the caller stops the others)."""
    while True:
        exited = {name: child.poll() for name, child in children.items()}
        failed = {name: code for name, code in exited.items() if code is not None}
        if failed:
            print(f"tally dev: {failed} exited; stopping the others", flush=True)
            return 1
        time.sleep(0.2)


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
    auth = f"-H 'Authorization: Bearer {token}'"
    print(
        f"""
Tally is running on the embedded default (database {settings.database_url}).
  API docs:     {base}/docs        OpenAPI: {base}/openapi.json
  Readiness:    {base}/ready
  Projections:  {base}/api/v1/ops/projections   (or: tally projections status)
  Admin token:  {token}
  Try:          curl {auth} {base}/api/v1/projects
  Read your own writes: a command's response carries "position"; pass it to a query as
                ?min_position=N and the answer waits until the read model has it, e.g.
                curl {auth} '{base}/api/v1/projects/ID/dashboard?min_position=N'
  Flower:       in another terminal in this folder, with a login (README.md, "Flower"):
                tally flower --address=127.0.0.1 --port=5555 --conf=.tally/flowerconfig.py
Press Ctrl-C to stop api, worker and beat.
""",
        flush=True,
    )


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child; after the grace period, or at once on a second Ctrl-C, SIGKILL
    every process of each child's session (gunicorn's workers, Celery's pool included). A
    worker killed mid-batch loses nothing: its batch rolls back and its broker claims go back
    to the queue."""
    forced = False

    def force(signum: int, _frame: FrameType | None) -> None:
        nonlocal forced
        forced = True

    signal.signal(signal.SIGINT, force)
    signal.signal(signal.SIGTERM, force)
    for child in children.values():
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while not forced and time.monotonic() < deadline:
        if all(child.poll() is not None for child in children.values()):
            break
        time.sleep(0.05)
    lingering = [name for name, child in children.items() if child.poll() is None]
    for child in children.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    killed = f" ({', '.join(lingering)} killed)" if lingering else ""
    print(f"tally dev: stopped{killed}", flush=True)


def stored_dev_token(home: Path) -> str:
    """`tally dev`'s admin token, kept in `.tally/dev-token` (owner-only) so that every start
    prints the same one instead of minting another."""
    path = home / DEV_TOKEN_FILE
    if path.exists():
        path.chmod(0o600)
        token = path.read_text().strip()
        if token:
            return token
    token = new_token()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    return token

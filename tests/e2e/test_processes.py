"""The stack as an operator runs it: separate processes talking HTTP on loopback."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.support.http import call, free_port
from tests.support.stack import Process, Stack, running, wait_until

TALLY = [sys.executable, "-m", "api.cli"]


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


def create_client_manager_project(base: str, token: str) -> tuple[dict, dict]:
    status, _, client = call("POST", f"{base}/api/v1/clients", token, {"name": "Acme"})
    assert status == 201, client
    status, _, manager = call(
        "POST",
        f"{base}/api/v1/people",
        token,
        {
            "first_name": "Mia",
            "last_name": "Wong",
            "email": f"mia{time.monotonic_ns()}@example.com",
            "role": "manager",
        },
    )
    assert status == 201, manager
    status, headers, project = call(
        "POST",
        f"{base}/api/v1/projects",
        token,
        {
            "name": "Relaunch",
            "client_id": client["id"],
            "manager_id": manager["id"],
            "start_date": "2026-11-02",
            "budget": "5000.00",
        },
    )
    assert status == 201, project
    status, _, dashboard = call("GET", base + headers["Location"], token)
    assert status == 200, dashboard
    return client, dashboard


def test_serve_worker_and_beat_as_separate_processes_on_postgres_and_redis(
    pg_stack: Stack,
) -> None:
    port = free_port()
    env = pg_stack.env() | {"TALLY_ADMIN_TOKEN": "ops-token"}
    base = f"http://127.0.0.1:{port}"
    with (
        running(
            Process(
                "serve",
                [*TALLY, "serve", "--port", str(port), "--workers", "2"],
                env,
                pg_stack.workdir,
            )
        ) as serve,
        running(
            Process(
                "worker",
                # At DEBUG the worker logs every routine sweep, which the test waits for.
                [*TALLY, "worker", "--pool", "solo", "--loglevel", "DEBUG"],
                env,
                pg_stack.workdir,
            )
        ) as worker,
        running(Process("beat", [*TALLY, "beat"], env, pg_stack.workdir)) as beat,
    ):
        wait_until(lambda: _up(base), timeout=30, message=serve.output()[-2000:])
        worker.wait_for_output("ready.")
        beat.wait_for_output("beat: Starting")
        client, dashboard = create_client_manager_project(base, "ops-token")
        assert dashboard["client_name"] == "Acme"
        assert dashboard["manager_name"] == "Mia Wong"

        status, _, renamed = call(
            "PATCH", f"{base}/api/v1/clients/{client['id']}", "ops-token", {"name": "Acme Group"}
        )
        assert status == 200
        url = f"{base}/api/v1/projects/{dashboard['project_id']}/dashboard"
        status, headers, after = call(
            "GET", f"{url}?min_position={renamed['position']}", "ops-token"
        )
        assert status == 200
        assert int(headers["X-Projection-Position"]) >= renamed["position"]
        assert after["client_name"] == "Acme Group"
        status, _, ready = call("GET", f"{base}/ready")
        assert status == 200, ready
        wait_until(
            lambda: "tally.sweep" in worker.output(),
            timeout=10,
            message="beat's sweep never reached the worker",
        )


def _up(base: str) -> bool:
    try:
        return call("GET", f"{base}/health", timeout=1)[0] == 200
    except OSError:
        return False

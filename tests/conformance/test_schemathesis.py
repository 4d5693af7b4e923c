"""schemathesis, a tool we did not write, holds the API to its own document: its CLI runs
every phase and every check against `tally serve` on both stacks, as an admin and as a
member, and finds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.support.http import api_is_up, call, free_port
from tests.support.stack import TALLY, Process, Stack, running, start_worker, wait_until

ADMIN_TOKEN = "conformance-admin-token"
EXAMPLES_PER_OPERATION = 8
RUN_TIMEOUT = 300


def _ok(response: tuple[int, dict[str, str], Any], status: int = 201) -> Any:
    assert response[0] == status, response
    return response[2]


def seed(base: str) -> tuple[str, dict[str, dict[str, str]]]:
    """Two of everything a list pages through; returns a member's token and, per list
    operation, a cursor it handed out (with the sort it was issued under)."""
    api = f"{base}/api/v1"
    people = [
        _ok(
            call(
                "POST",
                f"{api}/people",
                ADMIN_TOKEN,
                {
                    "first_name": name,
                    "last_name": "Test",
                    "email": f"{name}@example.com",
                    "role": role,
                },
            )
        )
        for name, role in (("mia", "manager"), ("max", "member"))
    ]
    manager, member = people
    for name in ("Relaunch", "Website"):
        client = _ok(call("POST", f"{api}/clients", ADMIN_TOKEN, {"name": f"{name} client"}))
        project = _ok(
            call(
                "POST",
                f"{api}/projects",
                ADMIN_TOKEN,
                {
                    "name": name,
                    "client_id": client["id"],
                    "manager_id": manager["id"],
                    "start_date": "2026-11-02",
                    "budget": "5000.00",
                    "default_bill_rate": "100.00",
                },
            )
        )
        _ok(
            call(
                "POST",
                f"{api}/projects/{project['id']}/members",
                ADMIN_TOKEN,
                {"person_id": member["id"], "role": "Developer"},
            )
        )
        for task in ("Design", "Build"):
            _ok(call("POST", f"{api}/projects/{project['id']}/tasks", ADMIN_TOKEN, {"name": task}))
        for person, day in ((member, "2026-11-02"), (manager, "2026-11-10")):
            entry = _ok(
                call(
                    "POST",
                    f"{api}/time-entries",
                    ADMIN_TOKEN,
                    {
                        "project_id": project["id"],
                        "person_id": person["id"],
                        "date": day,
                        "hours": 2,
                        "billable": True,
                    },
                )
            )
    # A second event for each entity whose history pages.
    _ok(call("POST", f"{api}/time-entries/{entry['id']}/approve", ADMIN_TOKEN), 200)
    _ok(call("PATCH", f"{api}/clients/{client['id']}", ADMIN_TOKEN, {"name": "Renamed"}), 200)
    _ok(call("PATCH", f"{api}/people/{member['id']}", ADMIN_TOKEN, {"last_name": "Tested"}), 200)
    # Per list operation, a path that pages and its query.
    lists = {
        "/api/v1/clients": "/api/v1/clients?",
        "/api/v1/people": "/api/v1/people?",
        "/api/v1/projects/{project_id}/tasks": f"/api/v1/projects/{project['id']}/tasks?",
        "/api/v1/projects": "/api/v1/projects?sort=name",
        "/api/v1/time-entries": "/api/v1/time-entries?",
        "/api/v1/reports/utilization": "/api/v1/reports/utilization?from=2026-11-01&to=2026-11-30",
        "/api/v1/reports/revenue": "/api/v1/reports/revenue?from=2026-01-01&to=2026-12-31",
        "/api/v1/reports/profitability": (
            "/api/v1/reports/profitability?from=2026-01-01&to=2026-12-31"
        ),
        "/api/v1/timesheets": "/api/v1/timesheets?",
        "/api/v1/time-entries/{entry_id}/history": f"/api/v1/time-entries/{entry['id']}/history?",
        "/api/v1/projects/{project_id}/history": f"/api/v1/projects/{project['id']}/history?",
        "/api/v1/people/{person_id}/history": f"/api/v1/people/{member['id']}/history?",
        "/api/v1/clients/{client_id}/history": f"/api/v1/clients/{client['id']}/history?",
    }
    cursors: dict[str, dict[str, str]] = {}

    def harvested() -> bool:
        for operation, target in lists.items():
            page = _ok(call("GET", f"{base}{target}&limit=1", ADMIN_TOKEN), 200)
            if page["next_cursor"]:
                query = parse_qs(target.partition("?")[2])
                pinned = {name: value[0] for name, value in query.items() if name == "sort"}
                cursors[operation] = pinned | {"cursor": page["next_cursor"]}
        return len(cursors) == len(lists)

    wait_until(
        harvested,
        timeout=60,
        message=lambda: f"{cursors}\n{call('GET', f'{api}/ops/projections', ADMIN_TOKEN)[2]}",
    )
    return member["token"], cursors


def schemathesis_run(base: str, token: str, cursors: dict[str, Any], report: Path) -> str:
    env = os.environ | {
        "SCHEMATHESIS_HOOKS": "tests.conformance.hooks",
        "TALLY_CURSORS": json.dumps(cursors),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
        "--checks", "all",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", "15",
        "--workers", "1",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--request-timeout", "60",
        # Timing is no assertion here (a shared 2-core machine): only a generous bound. An
        # on-demand verify waits for the projections to catch up, seconds on SQLite.
        "--max-response-time", "30",
        "-H", f"Authorization: Bearer {token}",
    ]  # fmt: skip
    report.mkdir(parents=True)
    # Its cache goes to the report folder, not the working tree.
    finished = subprocess.run(
        command,
        env=env,
        cwd=report,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    (report / "output.txt").write_text(finished.stdout + finished.stderr)
    assert finished.returncode == 0, finished.stdout[-20000:] + finished.stderr[-3000:]
    return finished.stdout


def test_schemathesis_finds_nothing_as_admin_and_as_member(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack.env() | {"TALLY_ADMIN_TOKEN": ADMIN_TOKEN, "TALLY_MIN_POSITION_TIMEOUT": "0.05"}
    command = [*TALLY, "serve", "--port", str(port), "--workers", "2"]
    with (
        running(Process("serve", command, env, stack.workdir)) as serve,
        running(start_worker(stack)),
    ):
        wait_until(lambda: api_is_up(base), timeout=30, message=lambda: serve.output()[-2000:])
        member_token, cursors = seed(base)
        spec = call("GET", f"{base}/openapi.json")[2]
        paged = {
            path
            for path, item in spec["paths"].items()
            if any(p["name"] == "cursor" for p in item.get("get", {}).get("parameters", []))
        }
        assert set(cursors) == paged, "harvest a cursor for every list"
        # The member first: the admin's run may archive the member or revoke their token.
        for role, token in (("member", member_token), ("admin", ADMIN_TOKEN)):
            started = time.monotonic()
            output = schemathesis_run(base, token, cursors, tmp_path / role)
            print(f"{stack.name} {role}: {time.monotonic() - started:.0f} s\n{output[-1500:]}")
        assert "Traceback" not in serve.output()

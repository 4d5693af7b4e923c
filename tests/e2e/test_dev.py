"""`tally dev` as a newcomer runs it: the embedded stack, Flower beside it, a stream of
commands, and a stop that leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from cli import processes
from tests.support.http import api_is_up, call, create_client_manager_project, free_port
from tests.support.stack import ROOT, TALLY, Process, alive, descendants, wait_until

DRIVE_SECONDS = 60
EXPECTED_IN_WORKDIR = {".tally", "tally.db", "tally.db-wal", "tally.db-shm", "tally.db-journal"}


def dev_env(workdir: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    return env | {"PYTHONPATH": str(ROOT), "TALLY_HOME_DIR": str(workdir), "HOME": str(home)}


def start_dev(workdir: Path, home: Path, logdir: Path, *options: str) -> tuple[Process, str, str]:
    port = free_port()
    dev = Process(
        "dev", [*TALLY, "dev", "--port", str(port), *options], dev_env(workdir, home), logdir
    )
    dev.wait_for_output("Press Ctrl-C", timeout=90)
    token = re.search(r"Admin token:\s+(\S+)", dev.output()).group(1)  # type: ignore[union-attr]
    return dev, f"http://127.0.0.1:{port}", token


def run_flower(workdir: Path, home: Path, logdir: Path, stop_with: signal.Signals) -> None:
    """Start Flower on the embedded broker, see it list the dev worker through its HTTP API,
    and stop it with the given signal."""
    port = free_port()
    env = dev_env(workdir, home) | {"FLOWER_UNAUTHENTICATED_API": "true"}
    command = processes.flower(["--address=127.0.0.1", f"--port={port}"]).argv
    flower = Process("flower", command, env, logdir)
    try:

        def lists_the_dev_worker() -> bool:
            try:
                status, _, workers = call("GET", f"http://127.0.0.1:{port}/api/workers", timeout=10)
            except OSError:
                return False
            return status == 200 and any(name.startswith("tally-dev@") for name in workers)

        wait_until(lists_the_dev_worker, timeout=60, interval=0.5, message=flower.output)
    finally:
        flower.popen.send_signal(stop_with)
        flower.popen.wait(timeout=30)
        flower.stop()


def drive_commands(base: str, token: str, seconds: float) -> int:
    """Log time for a team, rename its client now and then, for `seconds`; returns the number
    of commands accepted."""
    client, dashboard = create_client_manager_project(base, token)
    project_id = dashboard["project_id"]
    people = []
    # Room for any rate this machine reaches: 8 people x 28 days x 24 h of 0.1 h entries.
    for index in range(8):
        status, _, person = call(
            "POST",
            f"{base}/api/v1/people",
            token,
            {
                "first_name": "Field",
                "last_name": f"Worker{index}",
                "email": f"field{index}.{time.monotonic_ns()}@example.com",
                "role": "member",
            },
        )
        assert status == 201, person
        status, _, added = call(
            "POST",
            f"{base}/api/v1/projects/{project_id}/members",
            token,
            {"person_id": person["id"], "role": "Engineer"},
        )
        assert status == 201, added
        people.append(person["id"])
    accepted = 0
    deadline = time.monotonic() + seconds
    first_day = dt.date(2026, 11, 2)
    while time.monotonic() < deadline:
        if accepted % 50 == 49:
            status, _, body = call(
                "PATCH",
                f"{base}/api/v1/clients/{client['id']}",
                token,
                {"name": f"Acme {accepted}"},
            )
            assert status == 200, body
        day = first_day + dt.timedelta(days=(accepted // len(people)) % 28)
        status, _, body = call(
            "POST",
            f"{base}/api/v1/time-entries",
            token,
            {
                "project_id": project_id,
                "person_id": people[accepted % len(people)],
                "date": day.isoformat(),
                "hours": 0.1,
                "billable": True,
            },
        )
        assert status in (201, 202), body
        accepted += 1
    return accepted


def caughtapi_is_up(base: str, token: str) -> bool:
    status, _, projections = call("GET", f"{base}/api/v1/ops/projections", token)
    return status == 200 and all(row["lag_events"] == 0 for row in projections["items"])


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_tally_dev_survives_flower_and_a_minute_of_commands_then_stops_cleanly(
    tmp_path: Path,
) -> None:
    workdir, home = tmp_path / "work", tmp_path / "home"
    workdir.mkdir()
    home.mkdir()
    dev, base, token = start_dev(workdir, home, tmp_path, "--demo")
    try:
        assert "demo data created" in dev.output()
        run_flower(workdir, home, tmp_path, signal.SIGTERM)
        run_flower(workdir, home, tmp_path, signal.SIGKILL)
        accepted = drive_commands(base, token, DRIVE_SECONDS)
        assert accepted > 100

        wait_until(
            lambda: caughtapi_is_up(base, token),
            timeout=60,
            interval=0.5,
            message=lambda: dev.output()[-3000:],
        )
        assert call("GET", f"{base}/health")[0] == 200
        verify = subprocess.run(
            [*TALLY, "projections", "verify"],
            env=dev_env(workdir, home),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        broker_files = files_under(workdir / ".tally" / "broker")
        assert len(broker_files) < 200, sorted(str(p) for p in broker_files)[:50]
        assert "Unrecoverable error" not in dev.output()
        assert set(os.listdir(workdir)) <= EXPECTED_IN_WORKDIR
        assert os.listdir(home) == []

        children = descendants(dev.popen.pid)
        assert len(children) >= 3
        os.kill(dev.popen.pid, signal.SIGINT)
        stopped = time.monotonic()
        wait_until(
            lambda: dev.popen.poll() is not None and not any(alive(pid) for pid in children),
            timeout=3,
            message=lambda: f"still running: {[p for p in children if alive(p)]}",
        )
        assert dev.popen.returncode == 0
        assert time.monotonic() - stopped < 3
        assert "tally dev: stopped" in dev.output()
    finally:
        dev.kill()


def test_a_second_ctrl_c_stops_tally_dev_at_once(tmp_path: Path) -> None:
    workdir, home = tmp_path / "work", tmp_path / "home"
    workdir.mkdir()
    home.mkdir()
    dev, base, _token = start_dev(workdir, home, tmp_path)
    try:
        wait_until(lambda: api_is_up(base), timeout=30)
        dev.wait_for_output("tally-dev@", timeout=30)
        dev.wait_for_output(" ready.", timeout=30)
        children = descendants(dev.popen.pid)
        os.kill(dev.popen.pid, signal.SIGINT)
        time.sleep(0.05)
        os.kill(dev.popen.pid, signal.SIGINT)
        dev.popen.wait(timeout=3)
        wait_until(
            lambda: not any(alive(pid) for pid in children),
            timeout=3,
            message="tally dev left children running",
        )
        assert re.search(r"tally dev: stopped \(.*killed\)", dev.output()), dev.output()[-2000:]
    finally:
        dev.kill()

"""The `tally` command line against a real database."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import update

from readmodels.tables import time_entry_rows, utilization
from readmodels.verify import CHECKS
from service.demo import create_demo_data
from tests.support.scenario import Scenario, recording_service
from tests.support.stack import Stack


def tally(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=stack.env(),
        cwd=stack.workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_passes_after_demo_data_and_reports_a_corrupted_row(stack: Stack) -> None:
    counts = create_demo_data(recording_service(stack.databases)[0], projects=6, entries=150)
    assert counts["entries"] == 150
    Scenario(stack.databases).catch_up()
    clean = tally(stack, "projections", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.count(": ok") == len(CHECKS)

    with stack.databases.read.begin() as conn:
        conn.execute(
            update(utilization)
            .values(hundredths=utilization.c.hundredths + 1)
            .where(utilization.c.week == conn.execute(utilization.select().limit(1)).one().week)
        )
        conn.execute(update(time_entry_rows).values(person_name="Mallory"))
    drifted = tally(stack, "projections", "verify")
    assert drifted.returncode == 1
    assert "utilization: DRIFT" in drifted.stdout
    assert "time_entry_rows: DRIFT" in drifted.stdout
    assert "expected" in drifted.stdout and "Mallory" in drifted.stdout
    assert tally(stack, "projections", "verify", "client_revenue").returncode == 0

    rebuilt = tally(stack, "projections", "rebuild", "utilization")
    assert rebuilt.returncode == 0, rebuilt.stderr
    rebuilt = tally(stack, "projections", "rebuild", "time_entry_rows")
    assert tally(stack, "projections", "verify").returncode == 0


def test_demo_data_and_tokens_from_the_command_line(stack: Stack) -> None:
    made = tally(stack, "demo-data", "--projects", "2", "--entries", "20")
    assert made.returncode == 0, made.stderr
    assert '"entries": 20' in made.stdout
    status = tally(stack, "projections", "status")
    assert status.returncode == 0 and "project_dashboards" in status.stdout
    missing = tally(stack, "admin", "create-token", "--email", "nobody@example.com")
    assert missing.returncode != 0
    assert "no person" in missing.stderr

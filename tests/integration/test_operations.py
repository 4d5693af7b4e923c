"""Operations: projection status (including stalled), metrics, the rebuild endpoint."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid

from flask.testing import FlaskClient
from sqlalchemy import insert, update

from domain.store.tables import event_log
from readmodels.status import projection_status
from readmodels.tables import projection_checkpoints
from tests.support.api import create_client
from tests.support.stack import Stack


def test_a_projection_behind_without_progress_for_30_seconds_is_stalled(stack: Stack) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=90)
    with stack.databases.write.begin() as conn:
        conn.execute(
            insert(event_log).values(
                event_id=uuid.uuid4(),
                event_type="ClientRegistered",
                schema_version=1,
                aggregate_type="Client",
                aggregate_id=uuid.uuid4(),
                aggregate_version=1,
                data={"client_id": str(uuid.uuid4()), "name": "Old"},
                metadata={},
                recorded_at=long_ago,
            )
        )
    with stack.databases.read.begin() as conn:
        conn.execute(
            update(projection_checkpoints)
            .where(projection_checkpoints.c.name == "project_dashboards")
            .values(last_progress_at=long_ago)
        )
    rows = {row["name"]: row for row in projection_status(stack.databases)}
    stalled = rows["project_dashboards"]
    assert stalled["status"] == "stalled"
    assert stalled["lag_events"] == 1
    assert stalled["lag_seconds"] >= 89
    assert stalled["head"] == 1 and stalled["checkpoint"] == 0
    # utilization does not handle ClientRegistered: not behind at all.
    assert rows["utilization"]["status"] == "ok"


def test_metrics_report_commands_and_projection_lag(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    create_client(client, admin, "Acme")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'tally_commands_total{command="RegisterClient",outcome="ok"}' in body
    assert "tally_command_seconds_bucket" in body
    for name in (
        "tally_event_log_head",
        "tally_projection_lag_events",
        "tally_projection_lag_seconds",
        "tally_projection_parked",
        "tally_projection_events_total",
        "tally_projection_failures_total",
    ):
        assert f"{name}" in body, name
    assert 'tally_projection_checkpoint{projection="project_dashboards"}' in body


def test_rebuild_is_accepted_for_known_projections_only(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    accepted = client.post("/api/v1/ops/projections/utilization/rebuild", headers=admin)
    assert accepted.status_code == 202
    assert accepted.get_json() == {"projection": "utilization", "status": "rebuilding"}
    unknown = client.post("/api/v1/ops/projections/nope/rebuild", headers=admin)
    assert unknown.status_code == 404
    assert unknown.mimetype == "application/problem+json"
    member = client.post(
        "/api/v1/people",
        headers=admin,
        json={"first_name": "M", "last_name": "N", "email": "m@example.com", "role": "manager"},
    )
    as_manager = {"Authorization": f"Bearer {member.get_json()['token']}"}
    assert client.get("/api/v1/ops/projections", headers=as_manager).status_code == 403


def test_create_token_prints_a_working_token(client: FlaskClient, stack: Stack) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "cli", "admin", "create-token", "--email", "admin@tally.local"],
        env=stack.env(),
        cwd=stack.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    response = client.get("/api/v1/ops/projections", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200

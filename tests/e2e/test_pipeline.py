"""A real Celery worker process projects events; runs on both stacks."""

from __future__ import annotations

import re
import uuid

from flask.testing import FlaskClient

from domain import commands
from readmodels.catchup.checkpoints import checkpoint_position, head_position
from readmodels.catchup.loop import catch_up
from readmodels.registry import PROJECTIONS
from tests.e2e.conftest import Commands
from tests.support.api import create_client, create_person, create_project
from tests.support.stack import Process, Stack, start_worker, wait_until


def test_a_worker_process_projects_a_rename_into_the_dashboard(
    client: FlaskClient, admin: dict[str, str], stack: Stack, worker: Process
) -> None:
    client_id = create_client(client, admin, "Acme")
    manager_id = create_person(client, admin, "ann@example.com")["id"]
    project = create_project(client, admin, client_id, manager_id)
    renamed = client.patch(
        f"/api/v1/clients/{client_id}", json={"name": "Acme Holdings"}, headers=admin
    )
    assert renamed.status_code == 200
    position = renamed.get_json()["position"]

    # ClientRenamed is not on the sync path: only the worker can bring it to the dashboard.
    dashboard = client.get(
        f"/api/v1/projects/{project['id']}/dashboard?min_position={position}", headers=admin
    )
    assert dashboard.status_code == 200
    assert dashboard.get_json()["client_name"] == "Acme Holdings"
    assert int(dashboard.headers["X-Projection-Position"]) >= position
    # The group's task (a rename concerns several projections), or the dashboard's own
    # task if the query's min_position woke it first.
    assert re.search(r"catch_up (group|project_dashboards) to", worker.output())


def test_events_committed_while_no_worker_runs_are_projected_once_one_starts(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    client_id = create_client(client, admin, "Acme")
    manager_id = create_person(client, admin, "ann@example.com")["id"]
    project = create_project(client, admin, client_id, manager_id)
    for name in ("B", "C", "D"):
        client.patch(f"/api/v1/clients/{client_id}", json={"name": name}, headers=admin)
    last = client.patch(f"/api/v1/clients/{client_id}", json={"name": "Final"}, headers=admin)
    position = last.get_json()["position"]
    assert checkpoint_position(stack.databases, "project_dashboards") < position

    worker = start_worker(stack)
    try:
        wait_until(
            lambda: checkpoint_position(stack.databases, "project_dashboards") >= position,
            message="the worker did not catch up",
        )
    finally:
        worker.stop()
    row = client.get(f"/api/v1/projects/{project['id']}/dashboard", headers=admin).get_json()
    assert row["client_name"] == "Final"


def all_caught_up(stack: Stack) -> bool:
    head = head_position(stack.databases)
    return all(checkpoint_position(stack.databases, name) >= head for name in PROJECTIONS)


def worker_idle(worker: Process) -> bool:
    """Every task the worker received has ended."""
    output = worker.output()
    return output.count("] received") == output.count("] succeeded in")


def test_min_position_wakes_a_projection_that_no_command_woke(
    client: FlaskClient,
    admin: dict[str, str],
    stack: Stack,
    worker: Process,
    run_commands: Commands,
) -> None:
    client_id = create_client(client, admin, "Acme")
    manager_id = create_person(client, admin, "ann@example.com")["id"]
    project = create_project(client, admin, client_id, manager_id)
    # The group's task these commands woke catches every projection up to the head: let it
    # end first.
    wait_until(lambda: all_caught_up(stack) and worker_idle(worker), timeout=30)
    # As if Redis had been down when the command committed: its wakeup never left.
    renamed = run_commands.run(
        commands.RenameClient(client_id=uuid.UUID(client_id), name="Acme Holdings"), wake=False
    )
    dashboard = client.get(
        f"/api/v1/projects/{project['id']}/dashboard?min_position={renamed.position}",
        headers=admin,
    )
    assert dashboard.status_code == 200, dashboard.get_json()
    assert dashboard.get_json()["client_name"] == "Acme Holdings"
    assert int(dashboard.headers["X-Projection-Position"]) >= renamed.position
    assert "catch_up project_dashboards" in worker.output()


def test_min_position_answers_at_once_when_nothing_up_to_it_concerns_the_read_model(
    client: FlaskClient, admin: dict[str, str], stack: Stack
) -> None:
    # No worker runs: ClientRegistered is nothing to the utilization report, so the report
    # as it stands is the report as of that position.
    catch_up(stack.databases, PROJECTIONS["utilization"])
    before = checkpoint_position(stack.databases, "utilization")
    position = client.post("/api/v1/clients", json={"name": "Acme"}, headers=admin).get_json()[
        "position"
    ]
    report = client.get(
        f"/api/v1/reports/utilization?from=2026-01-05&to=2026-01-11&min_position={position}",
        headers=admin,
    )
    assert report.status_code == 200, report.get_json()
    assert int(report.headers["X-Projection-Position"]) == position
    assert checkpoint_position(stack.databases, "utilization") == before < position

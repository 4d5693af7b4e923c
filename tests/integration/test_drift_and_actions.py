"""Drift as a metric (periodic and on-demand verify), the operator-actions list, the broker's
queue depth and command outcomes on /metrics."""

from __future__ import annotations

import datetime as dt
import time

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from readmodels.drift import periodic_verify
from readmodels.tables import project_dashboards
from readmodels.verify import CHECKS
from tests.support.api import create_client, create_person
from tests.support.scenario import Scenario
from tests.support.stack import Stack, wait_until


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = client.get("/metrics").get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def small_firm(stack: Stack) -> Scenario:
    scenario = Scenario(stack.databases)
    manager = scenario.person("Mia", "Wong", role="manager")
    project = scenario.project(scenario.client("Acme"), manager)
    scenario.member(project, manager)
    scenario.log(project, manager, dt.date(2026, 3, 2), 750)
    scenario.catch_up()
    return scenario


def test_verify_finds_drift_exports_it_and_records_who_asked(
    stack: Stack, client: FlaskClient, admin: dict[str, str]
) -> None:
    small_firm(stack)
    clean = client.post("/api/v1/ops/projections/verify", headers=admin)
    assert clean.status_code == 200, clean.get_json()
    assert {item["projection"]: item["drift_rows"] for item in clean.get_json()["items"]} == {
        name: 0 for name in CHECKS
    }
    metrics = scrape(client)
    assert metrics[("tally_projection_drift_rows", (("projection", "budget_burn"),))] == 0
    verified_at = metrics[
        ("tally_projection_last_verify_timestamp_seconds", (("projection", "budget_burn"),))
    ]
    assert abs(verified_at - dt.datetime.now(dt.UTC).timestamp()) < 60

    with stack.databases.read.begin() as conn:
        conn.execute(update(project_dashboards).values(name="Tampered"))
    found = client.post(
        "/api/v1/ops/projections/verify", json={"projection": "project_dashboards"}, headers=admin
    )
    assert found.status_code == 200
    [item] = found.get_json()["items"]
    assert (item["projection"], item["drift_rows"], item["differing"]) == (
        "project_dashboards",
        1,
        1,
    )
    dashboards = (("projection", "project_dashboards"),)
    assert scrape(client)[("tally_projection_drift_rows", dashboards)] == 1

    actions = client.get(
        "/api/v1/ops/projections/operator-actions?projection=project_dashboards", headers=admin
    )
    assert actions.status_code == 200
    newest = actions.get_json()["items"][0]
    assert newest["action"] == "verify"
    assert newest["actor"] == "admin@tally.local"
    assert newest["detail"]["drift_rows"] == 1


def test_operator_actions_list_retries_skips_and_rebuilds_newest_first(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    assert (
        client.post("/api/v1/ops/projections/utilization/parked/skip", headers=admin).status_code
        == 200
    )
    assert (
        client.post("/api/v1/ops/projections/utilization/parked/retry", headers=admin).status_code
        == 200
    )
    rebuild = client.post("/api/v1/ops/projections/budget_burn/rebuild", headers=admin)
    assert rebuild.status_code == 202
    listed = client.get("/api/v1/ops/projections/operator-actions", headers=admin).get_json()
    assert [(a["projection"], a["action"], a["actor"]) for a in listed["items"]] == [
        ("budget_burn", "rebuild", "admin@tally.local"),
        ("utilization", "retry", "admin@tally.local"),
        ("utilization", "skip", "admin@tally.local"),
    ]
    limited = client.get("/api/v1/ops/projections/operator-actions?limit=1", headers=admin)
    assert len(limited.get_json()["items"]) == 1


def test_verify_and_operator_actions_refuse_bad_input_and_non_admins(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    for body in ({"projection": "nope"}, {"projection": 3}, {"other": 1}):
        response = client.post("/api/v1/ops/projections/verify", json=body, headers=admin)
        assert response.status_code == 422, body
        assert response.mimetype == "application/problem+json"
    for query in ("limit=0", "limit=x", "limit=5000"):
        response = client.get(f"/api/v1/ops/projections/operator-actions?{query}", headers=admin)
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
    unknown = client.get("/api/v1/ops/projections/operator-actions?projection=n", headers=admin)
    assert unknown.status_code == 404
    manager = create_person(client, admin, "pm@example.com")
    as_manager = {"Authorization": f"Bearer {manager['token']}"}
    assert client.post("/api/v1/ops/projections/verify", headers=as_manager).status_code == 403
    listing = client.get("/api/v1/ops/projections/operator-actions", headers=as_manager)
    assert listing.status_code == 403
    assert client.get("/api/v1/ops/projections/operator-actions", headers=admin).get_json() == {
        "items": []
    }


def test_periodic_verify_is_off_once_the_firm_outgrows_its_row_limit(stack: Stack) -> None:
    small_firm(stack)
    assert periodic_verify(stack.databases, max_rows=0) == []
    results = periodic_verify(stack.databases, max_rows=1)
    assert {result["drift_rows"] for result in results} == {0}
    assert len(results) == len(CHECKS)


def test_queue_depth_counts_tasks_waiting_for_a_worker(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    queue = ("tally_broker_queue_depth", (("queue", "tally"),))

    def settled() -> tuple[float] | None:
        # The admin's registration wakes projections from a background thread: wait for it.
        before = scrape(client)[queue]
        time.sleep(0.3)
        return (before,) if scrape(client)[queue] == before else None

    (waiting,) = wait_until(settled, timeout=10)
    for name in ("utilization", "budget_burn"):
        response = client.post(f"/api/v1/ops/projections/{name}/rebuild", headers=admin)
        assert response.status_code == 202
    assert scrape(client)[queue] == waiting + 2


def test_commands_count_rejections_apart_from_errors(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    create_client(client, admin)
    missing = client.patch(
        "/api/v1/clients/00000000-0000-0000-0000-000000000000", json={"name": "X"}, headers=admin
    )
    assert missing.status_code == 404
    metrics = scrape(client)
    rejected = (("command", "RenameClient"), ("outcome", "rejected"))
    assert metrics[("tally_commands_total", rejected)] >= 1
    assert ("tally_commands_total", (("command", "RenameClient"), ("outcome", "error"))) not in (
        metrics
    )

"""The alert rules and the dashboard against a running stack: every metric they name is
exported, and a real stall and a real parked event show the values the rules fire on."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from domain import commands
from tests.e2e.conftest import Commands
from tests.support import ledger
from tests.support.http import api_is_up, call, free_port
from tests.support.monitoring import (
    ALERTS,
    PROMETHEUS_SERIES,
    alert_rules,
    dashboard_queries,
    metric_names,
    promtool,
    recording_rules,
    require_promtool,
    sample_names,
)
from tests.support.stack import TALLY, Process, Stack, running, wait_until
from workers.celery_app import make_celery

TOKEN = "monitoring-token"


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def named_in_rules_and_dashboard() -> set[str]:
    expressions = [rule["expr"] for rule in alert_rules() + recording_rules()]
    return set().union(*(metric_names(expr) for expr in expressions + dashboard_queries()))


def drive_every_kind_of_command(base: str) -> None:
    status, _, client = call("POST", f"{base}/api/v1/clients", TOKEN, {"name": "Acme"})
    assert status == 201, client
    status, _, manager = call(
        "POST",
        f"{base}/api/v1/people",
        TOKEN,
        {"first_name": "Mia", "last_name": "Wong", "email": "mia@example.com", "role": "manager"},
    )
    assert status == 201, manager
    status, _, project = call(
        "POST",
        f"{base}/api/v1/projects",
        TOKEN,
        {
            "name": "Relaunch",
            "client_id": client["id"],
            "manager_id": manager["id"],
            "start_date": "2026-11-02",
            "budget": "5000.00",
        },
    )
    assert status == 201, project
    status, _, entry = call(
        "POST",
        f"{base}/api/v1/time-entries",
        TOKEN,
        {
            "project_id": project["id"],
            "person_id": manager["id"],
            "date": "2026-11-03",
            "hours": 2.5,
            "billable": True,
        },
    )
    assert status in (201, 202), entry
    missing = "00000000-0000-0000-0000-000000000000"
    status, _, _ = call("PATCH", f"{base}/api/v1/clients/{missing}", TOKEN, {"name": "X"})
    assert status == 404


def test_every_metric_the_rules_and_the_dashboard_name_is_exported(pg_stack: Stack) -> None:
    api_port, worker_port = free_port(), free_port()
    base = f"http://127.0.0.1:{api_port}"
    env = pg_stack.env() | {"TALLY_ADMIN_TOKEN": TOKEN}
    worker_env = env | {
        "TALLY_WORKER_METRICS_PORT": str(worker_port),
        "PROMETHEUS_MULTIPROC_DIR": str(pg_stack.workdir / "worker-metrics"),
    }
    with (
        running(
            Process(
                "serve",
                [*TALLY, "serve", "--port", str(api_port), "--workers", "1"],
                env,
                pg_stack.workdir,
            )
        ) as serve,
        running(
            Process("worker", [*TALLY, "worker", "--pool", "solo"], worker_env, pg_stack.workdir)
        ) as worker,
    ):
        wait_until(lambda: api_is_up(base), timeout=30, message=lambda: serve.output()[-2000:])
        worker.wait_for_output("ready.")
        drive_every_kind_of_command(base)
        # Beat's periodic verify, run by the real worker, fills the drift metrics.
        make_celery(pg_stack.settings).send_task("tally.verify")
        wait_until(
            lambda: "tally_projection_drift_rows{" in fetch(f"{base}/metrics"),
            timeout=30,
            message=lambda: worker.output()[-3000:],
        )
        status, _, verified = call("POST", f"{base}/api/v1/ops/projections/verify", TOKEN)
        assert status == 200, verified
        assert {item["drift_rows"] for item in verified["items"]} == {0}
        worker_metrics = f"http://127.0.0.1:{worker_port}/metrics"
        wait_until(
            lambda: "tally_projection_batch_seconds_bucket" in fetch(worker_metrics),
            timeout=20,
            message=lambda: worker.output()[-3000:],
        )
        exported = sample_names(fetch(f"{base}/metrics")) | sample_names(fetch(worker_metrics))

    named = named_in_rules_and_dashboard()
    recorded = {rule["record"] for rule in recording_rules()}
    ours = {name for name in named if name.startswith("tally_")}
    assert ours - exported == set(), "named in ops/ but not exported"
    assert named - ours - recorded <= PROMETHEUS_SERIES, "metrics of an exporter we do not run"
    assert len(ours) >= 12


Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient) -> Scrape:
    body = client.get("/metrics").get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def by_projection(metrics: Scrape, name: str) -> dict[str, float]:
    return {
        dict(labels)["projection"]: value
        for (sample, labels), value in metrics.items()
        if sample == name
    }


def with_status(metrics: Scrape, status: str) -> set[str]:
    return {
        dict(labels)["projection"]
        for (sample, labels), _ in metrics.items()
        if sample == "tally_projection_up" and dict(labels)["status"] == status
    }


def alerts_firing_on(metrics: Scrape, tmp_path: Path, expected: dict[str, set[str]]) -> str:
    """Feed the scraped values to promtool as series that hold for 10 minutes, evaluate the
    real rules (annotations left out) and expect exactly these alerts per projection."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    series = [
        {
            "series": sample
            + "{"
            + ",".join(f'{k}="{v}"' for k, v in (*labels, ("job", "tally-api")))
            + "}",
            "values": f"{value}x10",
        }
        for (sample, labels), value in metrics.items()
        if sample.startswith("tally_projection_") or sample == "tally_broker_queue_depth"
    ]
    severity = {rule["alert"]: rule["labels"]["severity"] for rule in alert_rules()}
    checks: list[dict[str, Any]] = [
        {
            "eval_time": "5m",
            "alertname": alert,
            "exp_alerts": [
                {"exp_labels": {"projection": name, "severity": severity[alert]}}
                for name in sorted(names)
            ],
        }
        for alert, names in expected.items()
    ]
    test_file = tmp_path / "real_values_test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yml"],
                "evaluation_interval": "1m",
                "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
            }
        )
    )
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)
def test_a_real_stall_and_a_real_parked_event_show_what_the_rules_fire_on(
    with_ledger: Stack,
    ledger_worker: Process,
    run_commands: Commands,
    client: FlaskClient,
    tmp_path: Path,
) -> None:
    require_promtool()
    # Registered unseen by the worker, then failing: both of the client's events park.
    failing = run_commands.run(commands.RegisterClient(name="Parked"), wake=False).id
    ledger.inject_fault(with_ledger.databases.read, failing, "fail")
    run_commands.rename(failing, "Parked again")
    wait_until(
        lambda: by_projection(scrape(client), "tally_projection_parked").get("test_ledger") == 2,
        timeout=30,
        message=lambda: ledger_worker.output()[-3000:],
    )
    assert by_projection(scrape(client), "tally_projection_failures_total")["test_ledger"] >= 3

    ledger_worker.stop()
    for number in range(5):
        run_commands.new_client(f"Arrived while no worker ran {number}")
    # The app calls a projection stalled after 30 s behind without progress.
    wait_until(lambda: "project_dashboards" in with_status(scrape(client), "stalled"), timeout=60)
    metrics = scrape(client)

    lag_events = by_projection(metrics, "tally_projection_lag_events")
    lag_seconds = by_projection(metrics, "tally_projection_lag_seconds")
    parked = by_projection(metrics, "tally_projection_parked")
    behind = {name for name, events in lag_events.items() if events > 0}
    assert {"project_dashboards", "time_entry_rows", "client_revenue", "test_ledger"} <= behind
    assert lag_events["test_ledger"] == 5
    assert all(lag_seconds[name] > 30 for name in behind)
    # Parked events make a projection `failing`, which the stall alert leaves to its own.
    assert with_status(metrics, "failing") == {"test_ledger"}
    stalled = with_status(metrics, "stalled")
    assert stalled == behind - {"test_ledger"}
    queued = metrics[("tally_broker_queue_depth", (("queue", "tally"),))]
    assert queued >= 1, "the wakeups wait in the broker for a worker"

    alerts_firing_on(
        metrics,
        tmp_path,
        {
            "TallyProjectionStalled": stalled,
            "TallyProjectionLagHigh": behind,
            "TallyParkedEvents": {name for name, count in parked.items() if count > 0},
            "TallyRebuildTooLong": set(),
            "TallyReadModelDrift": set(),
        },
    )

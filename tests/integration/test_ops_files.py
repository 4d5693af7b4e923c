"""ops/: the alert rules (checked and unit-tested by promtool), the Prometheus config, the
Grafana dashboard and provisioning, and the compose `monitoring` profile that ties them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.support.monitoring import (
    ALERTS,
    PROMETHEUS_DIR,
    ROOT,
    alert_rules,
    dashboard,
    dashboard_queries,
    metric_names,
    promtool,
)

RUNBOOK = ROOT / "docs" / "runbook.md"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_promtool_accepts_the_rules_and_the_config() -> None:
    rules = promtool("check", "rules", str(ALERTS))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # --syntax-only: the token file it names exists only inside the compose container.
    config = promtool("check", "config", "--syntax-only", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    tested = promtool("test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = load(PROMETHEUS_DIR / "alerts_test.yml")["tests"]
    fires = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    [healthy] = [case for case in cases if case["name"] == "a healthy hour fires nothing"]
    quiet = {check["alertname"] for check in healthy["alert_rule_test"]}
    assert all(not check.get("exp_alerts") for check in healthy["alert_rule_test"])
    names = {rule["alert"] for rule in alert_rules()}
    assert len(names) == 10
    assert fires == names
    assert quiet == names


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {
        re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings
    }


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook_section() -> None:
    anchors = runbook_anchors()
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        document, anchor = annotations["runbook_url"].split("#")
        assert document == "docs/runbook.md", rule["alert"]
        assert anchor in anchors, rule["alert"]


def test_prometheus_scrapes_the_api_and_the_worker_where_compose_runs_them() -> None:
    compose = load(ROOT / "docker-compose.yml")
    config = load(PROMETHEUS_DIR / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }
    worker_port = compose["services"]["worker"]["environment"]["TALLY_WORKER_METRICS_PORT"]
    api_port = compose["services"]["api"]["command"][-3]
    assert targets == {"tally-api": [f"api:{api_port}"], "tally-worker": [f"worker:{worker_port}"]}


def test_the_monitoring_profile_starts_prometheus_and_grafana_with_both_files() -> None:
    services = load(ROOT / "docker-compose.yml")["services"]
    monitoring = {name for name, s in services.items() if "monitoring" in s.get("profiles", [])}
    assert monitoring == {"prometheus", "grafana"}
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert "./ops/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "./ops/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    dashboards = load(ROOT / "ops/grafana/provisioning/dashboards/tally.yml")
    folder = dashboards["providers"][0]["options"]["path"]
    assert f"./ops/grafana/tally.json:{folder}/tally.json:ro" in grafana["volumes"]
    [datasource] = load(ROOT / "ops/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert (datasource["type"], datasource["url"]) == ("prometheus", "http://prometheus:9090")
    for service in (prometheus, grafana):
        assert "healthcheck" in service
        assert all(str(port).startswith("127.0.0.1:") for port in service["ports"])
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == (
        "/run/secrets/grafana_admin_password"
    )
    assert "tally_metrics_token" in prometheus["secrets"]


def test_the_dashboard_takes_its_prometheus_from_a_variable_and_shows_what_operators_need() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource",
        "prometheus",
    )
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
    shown = set().union(*(metric_names(query) for query in dashboard_queries()))
    assert {
        "tally_commands_total",
        "tally_command_seconds_bucket",
        "tally_projection_lag_events",
        "tally_projection_lag_seconds",
        "tally_projection_checkpoint",
        "tally_event_log_head",
        "tally_projection_batch_seconds_bucket",
        "tally_projection_parked",
        "tally_projection_failures_total",
        "tally_broker_queue_depth",
        "tally_projection_drift_rows",
    } <= shown
    positions = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in board["panels"]]
    assert len(positions) == len(set(positions)), "panels overlap"

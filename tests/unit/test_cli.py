"""How the `tally` processes start: a worker's concurrency, and the api's gunicorn settings
shared by `tally serve`, `tally dev` and the bench's baselines."""

from __future__ import annotations

import pytest

from bench.stack import serve_argv
from cli import processes
from cli.dev import dev_processes
from cli.processes import ApiOptions, worker_concurrency
from domain.settings import Settings
from readmodels.registry import PROJECTIONS


def test_a_worker_gets_a_slot_per_projection_plus_one_by_default() -> None:
    assert worker_concurrency(["--pool", "threads"]) == [
        "--concurrency",
        str(len(PROJECTIONS) + 1),
    ]


@pytest.mark.parametrize("given", [["-c", "3"], ["--concurrency", "3"], ["--concurrency=3"]])
def test_a_concurrency_given_is_left_alone(given: list[str]) -> None:
    assert worker_concurrency(given) == []


@pytest.mark.parametrize("given", [["--pool", "solo"], ["-P", "solo"], ["--pool=solo"]])
def test_a_solo_worker_gets_no_more_slots_than_it_runs(given: list[str]) -> None:
    assert worker_concurrency([*given, "--loglevel", "INFO"]) == []


SETTINGS = Settings.from_env({"TALLY_HOME_DIR": "/nowhere"})


def test_tally_dev_runs_the_api_as_tally_serve_does_but_stops_it_sooner() -> None:
    dev = dev_processes(SETTINGS, 8123)["api"].argv
    serve = processes.api(SETTINGS, ApiOptions(port=8123)).argv
    graceful = dev.index("--graceful-timeout")
    assert dev[graceful : graceful + 2] == ["--graceful-timeout", "1"]
    assert dev[:graceful] + dev[graceful + 2 :] == serve
    assert "--limit-request-line" in serve


def test_the_bench_baselines_run_under_tally_serves_gunicorn_settings() -> None:
    baseline = serve_argv(SETTINGS, "bench.ceilings:read_app()", 8124)
    serve = processes.api(SETTINGS, ApiOptions(port=8124)).argv
    assert baseline == [
        "bench.ceilings:read_app()" if arg == processes.TALLY_APP else arg for arg in serve
    ]


def test_the_api_and_a_worker_share_a_metrics_folder_unless_the_environment_names_one() -> None:
    for launch in (processes.api(SETTINGS), processes.worker(SETTINGS)):
        assert launch.environment({})["PROMETHEUS_MULTIPROC_DIR"] == "/nowhere/.tally/metrics"
        given = {"PROMETHEUS_MULTIPROC_DIR": "/elsewhere"}
        assert launch.environment(given)["PROMETHEUS_MULTIPROC_DIR"] == "/elsewhere"

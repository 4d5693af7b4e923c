"""A worker's own /metrics answers only to the metrics token when one is set."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.support.http import free_port
from tests.support.stack import Stack, start_worker, wait_until


def scrape(port: int, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)
def test_the_worker_metrics_port_asks_for_the_metrics_token(stack: Stack) -> None:
    port = free_port()
    worker = start_worker(
        stack, env={"TALLY_WORKER_METRICS_PORT": str(port), "TALLY_METRICS_TOKEN": "scrape-me"}
    )
    try:
        wait_until(lambda: _answers(port), timeout=20)
        refused = scrape(port, None)
        wrong = scrape(port, "not-it")
        allowed = scrape(port, "scrape-me")
    finally:
        worker.stop()
    assert refused[0] == wrong[0] == 401
    assert "TALLY_METRICS_TOKEN" in refused[1]
    assert allowed[0] == 200
    assert "# TYPE" in allowed[1]


def _answers(port: int) -> bool:
    try:
        scrape(port, None)
    except OSError:
        return False
    return True

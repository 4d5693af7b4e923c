"""`tally serve` and `tally dev` as real processes: bounded min_position waiters, the
default bind, gunicorn's own errors as problem+json, the metrics port, the dev token."""

from __future__ import annotations

import os
import re
import socket
import stat
import threading
import time
from pathlib import Path

from tests.support.http import api_is_up, call, free_port
from tests.support.stack import ROOT, TALLY, Process, Stack, running, wait_until

TOKEN = "serve-security-token"


def _timed(method: str, url: str, token: str | None = None) -> tuple[int, dict, object, float]:
    started = time.monotonic()
    status, headers, body = call(method, url, token, timeout=30)
    return status, headers, body, time.monotonic() - started


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_waiters_are_bounded_and_health_answers_while_two_wait(pg_stack: Stack) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = pg_stack.env() | {
        "TALLY_ADMIN_TOKEN": TOKEN,
        "TALLY_MIN_POSITION_TIMEOUT": "4",
        "TALLY_MIN_POSITION_WAITERS": "2",
    }
    command = [*TALLY, "serve", "--port", str(port), "--workers", "1"]
    with running(Process("serve", command, env, pg_stack.workdir)) as serve:
        wait_until(lambda: api_is_up(base), timeout=30, message=lambda: serve.output()[-2000:])
        assert f"Listening at: http://127.0.0.1:{port}" in serve.output()
        status, _, created = call("POST", f"{base}/api/v1/clients", TOKEN, {"name": "Acme"})
        assert status == 201, created
        # No worker runs: time_entry_rows stays behind this position, so a query waits.
        waiting_url = f"{base}/api/v1/time-entries?min_position={created['position']}"
        results: list[tuple[int, dict, object, float]] = []
        waiters = [
            threading.Thread(target=lambda: results.append(_timed("GET", waiting_url, TOKEN)))
            for _ in range(2)
        ]
        for waiter in waiters:
            waiter.start()
        time.sleep(1)

        status, _, _, health_seconds = _timed("GET", f"{base}/health")
        assert status == 200
        assert health_seconds < 1.5
        status, headers, problem, third_seconds = _timed("GET", waiting_url, TOKEN)
        assert status == 503, problem
        assert headers["Retry-After"] == "1"
        assert "waiting" in problem["detail"]  # type: ignore[index]
        assert third_seconds < 1.5
        assert not results, "the waiters should still be waiting"

        status, _, problem, beyond_seconds = _timed(
            "GET", f"{base}/api/v1/time-entries?min_position=999999999", TOKEN
        )
        assert status == 409, problem
        assert problem["head"] == created["position"]  # type: ignore[index]
        assert beyond_seconds < 1.5

        for waiter in waiters:
            waiter.join(timeout=15)
        assert [result[0] for result in results] == [503, 503]
        assert all(3.5 < result[3] < 10 for result in results)

        oversized = _raw(
            port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        )
        head, _, body = oversized.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431"), head
        assert b"Content-Type: application/problem+json" in head
        assert b'"status": 431' in body


def test_metrics_on_their_own_port_with_a_token(pg_stack: Stack) -> None:
    port, metrics_port = free_port(), free_port()
    env = pg_stack.env() | {
        "TALLY_ADMIN_TOKEN": TOKEN,
        "TALLY_METRICS_PORT": str(metrics_port),
        "TALLY_METRICS_TOKEN": "scrape-me",
    }
    command = [*TALLY, "serve", "--port", str(port), "--workers", "1"]
    with running(Process("serve", command, env, pg_stack.workdir)) as serve:
        base, metrics_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
        wait_until(lambda: api_is_up(base), timeout=30, message=lambda: serve.output()[-2000:])
        assert call("GET", f"{base}/metrics", "scrape-me")[0] == 404
        assert call("GET", f"{metrics_base}/metrics")[0] == 401
        assert call("GET", f"{metrics_base}/metrics", TOKEN)[0] == 401
        assert call("GET", f"{metrics_base}/health")[0] == 404
        assert call("GET", f"{metrics_base}/api/v1/me/tokens", TOKEN)[0] == 404
        with_token = _raw(
            metrics_port,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer scrape-me\r\n"
            b"Connection: close\r\n\r\n",
        )
        assert with_token.startswith(b"HTTP/1.1 200"), with_token[:200]
        assert b"tally_event_log_head" in with_token


def _dev_token(dev: Process) -> str:
    dev.wait_for_output("Press Ctrl-C", timeout=60)
    return re.search(r"Admin token:\s+(\S+)", dev.output()).group(1)  # type: ignore[union-attr]


def test_tally_dev_reuses_one_private_token_and_keeps_its_files_private(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env |= {"PYTHONPATH": str(ROOT), "TALLY_HOME_DIR": str(tmp_path)}
    tokens = []
    for _ in range(2):
        port = free_port()
        command = [*TALLY, "dev", "--port", str(port)]
        with running(Process("dev", command, env, tmp_path)) as dev:
            token = _dev_token(dev)
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda b=base: api_is_up(b), timeout=30, message=dev.output)
            status, _, mine = call("GET", f"{base}/api/v1/me/tokens", token)
            assert status == 200, mine
            assert [t["name"] for t in mine["items"]] == ["TALLY_ADMIN_TOKEN"]
            tokens.append(token)
    assert tokens[0] == tokens[1]
    assert (tmp_path / ".tally" / "dev-token").read_text().strip() == tokens[0]
    assert stat.S_IMODE((tmp_path / ".tally").stat().st_mode) == 0o700
    for name in (".tally/dev-token", "tally.db", "tally.db-wal", "tally.db-shm"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name

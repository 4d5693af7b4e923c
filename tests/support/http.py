"""A tiny HTTP client for tests against real server processes on loopback."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 10
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def api_is_up(base: str) -> bool:
    """The API at `base` answers its health check."""
    try:
        return call("GET", f"{base}/health", timeout=1)[0] == 200
    except OSError:
        return False


def create_client_manager_project(base: str, token: str) -> tuple[dict, dict]:
    status, _, client = call("POST", f"{base}/api/v1/clients", token, {"name": "Acme"})
    assert status == 201, client
    status, _, manager = call(
        "POST",
        f"{base}/api/v1/people",
        token,
        {
            "first_name": "Mia",
            "last_name": "Wong",
            "email": f"mia{time.monotonic_ns()}@example.com",
            "role": "manager",
        },
    )
    assert status == 201, manager
    status, headers, project = call(
        "POST",
        f"{base}/api/v1/projects",
        token,
        {
            "name": "Relaunch",
            "client_id": client["id"],
            "manager_id": manager["id"],
            "start_date": "2026-11-02",
            "budget": "5000.00",
        },
    )
    assert status == 201, project
    status, _, dashboard = call("GET", base + headers["Location"], token)
    assert status == 200, dashboard
    return client, dashboard

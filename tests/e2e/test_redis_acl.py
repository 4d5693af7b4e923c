"""deploy/redis's users file on a real redis-server: the default user is off, Tally's user
runs the whole pipeline (a worker with events, mingle and gossip, the compose healthcheck's
`inspect ping`) and is refused administrative and dangerous commands."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from cli import processes
from readmodels.catchup.checkpoints import checkpoint_position
from readmodels.registry import affected_by
from tests.conftest import ADMIN_TOKEN, make_app
from tests.support.redis_server import RedisServer
from tests.support.stack import ROOT, Process, Stack, running, wait_until

TEMPLATE = ROOT / "deploy" / "redis" / "users.acl.template"
PASSWORD = "broker-secret"


def test_the_acl_user_runs_the_pipeline_and_nothing_else(pg_stack: Stack, tmp_path: Path) -> None:
    acl = tmp_path / "users.acl"
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    acl.write_text(TEMPLATE.read_text().replace("PASSWORD_SHA256", digest))
    password_file = tmp_path / "redis_password"
    password_file.write_text(PASSWORD + "\n")
    made = subprocess.run(
        ["sh", str(ROOT / "deploy" / "redis" / "make-users-acl.sh"), str(password_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout == acl.read_text()

    with RedisServer(tmp_path, acl_file=acl, credentials=f"tally:{PASSWORD}") as server:
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=server.port).ping()
        tally = redis.Redis.from_url(server.url)
        for command in (
            ("FLUSHALL",),
            ("CONFIG", "GET", "*"),
            ("KEYS", "*"),
            ("ACL", "LIST"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                tally.execute_command(*command)

        stack = server.stack_for(pg_stack)
        hostname = f"acl-{time.monotonic_ns()}@{socket.gethostname()}"
        launch = processes.worker(stack.settings, ["--pool", "solo", "--hostname", hostname])
        with running(Process("worker", launch.argv, stack.env(), stack.workdir)) as worker:
            worker.wait_for_output("ready.")
            app = make_app(stack)
            try:
                created = (
                    app.test_client()
                    .post(
                        "/api/v1/clients",
                        json={"name": "Acme"},
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    )
                    .get_json()
                )
                for projection in affected_by(frozenset({"ClientRegistered"})):
                    wait_until(
                        lambda name=projection.name: (
                            checkpoint_position(stack.databases, name) >= created["position"]
                        ),
                        message=worker.output,
                    )
            finally:
                app.extensions["tally"].databases.dispose()
            assert "NOPERM" not in worker.output()
            ping = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers",
                    "inspect",
                    "ping",
                    "-d",
                    hostname,
                    "--timeout",
                    "10",
                ],
                env=stack.env(),
                cwd=stack.workdir,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert ping.returncode == 0, ping.stdout + ping.stderr
            assert "pong" in ping.stdout

"""The stack as an operator runs it: separate processes talking HTTP on loopback."""

from __future__ import annotations

from tests.support.http import api_is_up, call, create_client_manager_project, free_port
from tests.support.stack import TALLY, Process, Stack, running, wait_until


def test_serve_worker_and_beat_as_separate_processes_on_postgres_and_redis(
    pg_stack: Stack,
) -> None:
    port = free_port()
    env = pg_stack.env() | {"TALLY_ADMIN_TOKEN": "ops-token"}
    base = f"http://127.0.0.1:{port}"
    with (
        running(
            Process(
                "serve",
                [*TALLY, "serve", "--port", str(port), "--workers", "2"],
                env,
                pg_stack.workdir,
            )
        ) as serve,
        running(
            Process(
                "worker",
                # At DEBUG the worker logs every routine sweep, which the test waits for.
                [*TALLY, "worker", "--pool", "solo", "--loglevel", "DEBUG"],
                env,
                pg_stack.workdir,
            )
        ) as worker,
        running(Process("beat", [*TALLY, "beat"], env, pg_stack.workdir)) as beat,
    ):
        wait_until(lambda: api_is_up(base), timeout=30, message=serve.output()[-2000:])
        worker.wait_for_output("ready.")
        beat.wait_for_output("beat: Starting")
        client, dashboard = create_client_manager_project(base, "ops-token")
        assert dashboard["client_name"] == "Acme"
        assert dashboard["manager_name"] == "Mia Wong"

        status, _, renamed = call(
            "PATCH", f"{base}/api/v1/clients/{client['id']}", "ops-token", {"name": "Acme Group"}
        )
        assert status == 200
        url = f"{base}/api/v1/projects/{dashboard['project_id']}/dashboard"
        status, headers, after = call(
            "GET", f"{url}?min_position={renamed['position']}", "ops-token"
        )
        assert status == 200
        assert int(headers["X-Projection-Position"]) >= renamed["position"]
        assert after["client_name"] == "Acme Group"
        status, _, ready = call("GET", f"{base}/ready")
        assert status == 200, ready
        wait_until(
            lambda: "tally.sweep" in worker.output(),
            timeout=10,
            message="beat's sweep never reached the worker",
        )

"""PostgreSQL stopped for real while commands arrive and a worker runs: commands are refused
with 503 and change nothing; when it returns, everything catches up with no manual step."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from domain.store.db import PING_AFTER_IDLE_SECONDS, make_engine
from domain.store.tables import clients
from readmodels.catchup.checkpoints import checkpoint_position, head_position
from readmodels.registry import PROJECTIONS
from tests.conftest import ADMIN_TOKEN, make_app
from tests.support.postgres_server import PostgresServer
from tests.support.scenario import Scenario
from tests.support.services import require_redis
from tests.support.stack import Stack, build_stack, start_beat, start_worker, wait_until


def test_a_database_outage_refuses_commands_and_the_pipeline_recovers(tmp_path: Path) -> None:
    broker = require_redis()
    with PostgresServer() as server:
        stack = build_stack("outage", server.url, broker, tmp_path)
        stack.reset()
        app = make_app(stack)
        client = app.test_client()
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        worker = start_worker(stack)
        beat = start_beat(stack)
        try:
            before = client.post("/api/v1/clients", json={"name": "Before"}, headers=admin)
            assert before.status_code == 201

            server.stop()
            refused = client.post("/api/v1/clients", json={"name": "During"}, headers=admin)
            assert refused.status_code == 503
            assert refused.mimetype == "application/problem+json"
            assert "Traceback" not in refused.get_data(as_text=True)
            ready = client.get("/ready")
            assert ready.status_code == 503
            assert ready.get_json()["checks"]["database"].startswith("failed")
            time.sleep(3)  # the worker and beat keep running through the outage

            server.start()
            wait_until(lambda: client.get("/ready").status_code == 200, timeout=30)
            after = client.post("/api/v1/clients", json={"name": "After"}, headers=admin)
            assert after.status_code == 201, after.get_json()
            position = after.get_json()["position"]
            dashboard_ready = client.get(f"/api/v1/projects?min_position={position}", headers=admin)
            assert dashboard_ready.status_code == 200
            wait_until(
                lambda: _caught_up(stack), timeout=30, message=lambda: worker.output()[-3000:]
            )
            assert Scenario(stack.databases).drift() == {}
        finally:
            beat.stop()
            worker.stop()
            app.extensions["tally"].databases.dispose()
            stack.databases.dispose()
        names = [row["name"] for row in _clients(stack)]
        assert names == ["After", "Before"]  # "During" left no trace


def _caught_up(stack: Stack) -> bool:
    head = head_position(stack.databases)
    return all(checkpoint_position(stack.databases, n) >= head for n in PROJECTIONS)


def _clients(stack: Stack) -> list[dict[str, Any]]:
    with stack.databases.write.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(clients).order_by(clients.c.name))]


def test_a_pooled_connection_broken_by_a_restart_is_replaced_before_use() -> None:
    """The pool pings only connections idle for PING_AFTER_IDLE_SECONDS or more: one that
    the server's restart broke is found out at checkout and replaced, not handed to a
    command to fail on."""
    with PostgresServer() as server:
        pool = make_engine(server.url)
        try:
            with pool.connect() as conn:
                before = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            server.stop()
            server.start()
            time.sleep(PING_AFTER_IDLE_SECONDS)
            with pool.connect() as conn:
                after = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert after != before
        finally:
            pool.dispose()

"""Reference ceilings: the least an app can do for the same request, run under the same
gunicorn settings as `tally serve`. Flask and psycopg, one connection per server thread, no
validation, no authentication, no ORM: what this machine gives a Python web app.

- read: the dashboard row by primary key from the same read-model table, as JSON.
- write: one INSERT of the posted entry, its own transaction (autocommit: one round trip).
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import psycopg
from flask import Flask, Response, abort, jsonify, request
from psycopg.rows import dict_row

WRITES_TABLE = """CREATE TABLE IF NOT EXISTS bench_ceiling_writes (
    id uuid PRIMARY KEY, project_id uuid NOT NULL, person_id uuid NOT NULL, date date NOT NULL,
    hours_hundredths integer NOT NULL, billable boolean NOT NULL)"""


class Connection(threading.local):
    """One autocommit psycopg connection per server thread, opened at its first request
    (after the fork): `tally serve`'s gunicorn worker runs threads, and one connection
    shared by them would serialize their requests."""

    def __init__(self) -> None:
        self.connection: psycopg.Connection[Any] | None = None

    def get(self) -> psycopg.Connection[Any]:
        if self.connection is None:
            self.connection = psycopg.connect(
                os.environ["TALLY_BENCH_DSN"], autocommit=True, row_factory=dict_row
            )
        return self.connection


def read_app() -> Flask:
    app = Flask(__name__)
    db = Connection()

    @app.get("/projects/<uuid:project_id>/dashboard")
    def dashboard(project_id: uuid.UUID) -> Response:
        row = (
            db.get()
            .execute("SELECT * FROM project_dashboards WHERE project_id = %s", (project_id,))
            .fetchone()
        )
        if row is None:
            abort(404)
        return jsonify(row)

    return app


def write_app() -> Flask:
    app = Flask(__name__)
    db = Connection()

    @app.post("/time-entries")
    def log_time() -> tuple[Response, int]:
        body = request.get_json()
        entry_id = uuid.uuid4()
        db.get().execute(
            "INSERT INTO bench_ceiling_writes VALUES (%s, %s, %s, %s, %s, %s)",
            (
                entry_id,
                body["project_id"],
                body["person_id"],
                body["date"],
                round(body["hours"] * 100),
                body["billable"],
            ),
        )
        return jsonify({"id": str(entry_id)}), 201

    return app

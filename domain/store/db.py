"""Engines for PostgreSQL (psycopg 3) and SQLite, with the settings each one needs."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """Use psycopg 3 for a bare postgresql:// URL (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine whose JSON columns are parsed by orjson: projectors and rebuilds read every
    event's payload."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=10,
        connect_args={"connect_timeout": 5},
        json_deserializer=orjson.loads,
    )
    _ping_after_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle in the pool for a second or
    more. pool_pre_ping pinged at every checkout: a round trip on every command, query and
    catch-up, under load to connections used a few milliseconds before.

    A connection broken within a second of its last use is not pinged: its next statement
    fails (a command answers 503, a catch-up is retried, as during any outage), and that
    failure makes SQLAlchemy discard every pooled connection older than it."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("a pooled connection failed its ping") from error


SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def make_sqlite_files_private(database: str | None) -> None:
    """Create the database file readable by its owner only before SQLite opens it (SQLite
    gives its -wal and -shm files the database file's mode), and tighten existing ones.

    An existing file is never opened here: closing any descriptor of a file drops every
    POSIX lock this process holds on it, the locks of SQLite's open connections included."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite reports the missing folder when it connects
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for suffix in SQLITE_SIDE_FILES:
        side_file = path.with_name(path.name + suffix)
        if side_file.exists() and side_file.stat().st_uid == os.getuid():
            side_file.chmod(0o600)


def _sqlite_engine(url: str) -> Engine:
    make_sqlite_files_private(make_url(url).database)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so each can start with
        # BEGIN IMMEDIATE: SQLite has one writer, and taking the write lock up front avoids
        # the deadlock of two readers upgrading at once (which fails without waiting).
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def set_sqlite_busy_timeout(connection: Any, milliseconds: int) -> None:
    """Bound how long this SQLite connection waits for the write lock (before BEGIN)."""
    connection.connection.driver_connection.execute(f"PRAGMA busy_timeout={milliseconds}")


def create_database_if_missing(url: str) -> None:
    """Create the URL's PostgreSQL database when the server has none of that name (the
    benchmarks and tests own theirs); other backends create their databases themselves."""
    target = make_url(url)
    if target.get_backend_name() != "postgresql" or not target.database:
        return
    server = create_engine(
        target.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with server.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()


class Databases:
    """The write database (aggregates, event log) and the read database (projections)."""

    def __init__(self, write_url: str, read_url: str | None = None) -> None:
        self.write_url = normalize_url(write_url)
        self.read_url = normalize_url(read_url or write_url)
        self.write = make_engine(self.write_url)
        self.read = self.write if self.same else make_engine(self.read_url)
        # For a single read: no BEGIN and ROLLBACK round trips around it. Built once: making
        # an option engine costs more than the read.
        self.write_autocommit = self.write.execution_options(isolation_level="AUTOCOMMIT")
        self.read_autocommit = self.read.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def same(self) -> bool:
        return self.write_url == self.read_url

    def dispose(self) -> None:
        self.write.dispose()
        if not self.same:
            self.read.dispose()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back without their zone; they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value

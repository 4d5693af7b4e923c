"""Blue/green rebuild: fill shadow tables from position 0 while the live ones keep serving,
then swap them in one transaction.

The final catch-up and the swap happen under the live checkpoint's lock, so no live batch
runs in between; on PostgreSQL a reader blocked by the swap's DDL re-resolves the table name
once the swap commits and reads the new table, never an empty or partial one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, delete, or_, text, update

from domain.store.db import Databases, is_sqlite, utc_now
from readmodels.catchup.batch import BATCH_SIZE
from readmodels.catchup.checkpoints import batch_connections, locked_checkpoint, read_window
from readmodels.catchup.loop import catch_up
from readmodels.projection import SHADOW_SUFFIX, Projection, TableSet
from readmodels.tables import parked_events, projection_checkpoints

log = logging.getLogger(__name__)

REBUILD_BATCH_SIZE = 5 * BATCH_SIZE
SWAP_LOCK_TIMEOUT = 60.0
STALE_REBUILD = dt.timedelta(seconds=60)


class RebuildInProgress(Exception):
    """Another rebuild of this projection is running."""


@dataclass(frozen=True)
class RebuildResult:
    projection: str
    position: int
    events: int
    seconds: float


def rebuild(
    dbs: Databases, projection: Projection, batch_size: int = REBUILD_BATCH_SIZE
) -> RebuildResult:
    started = utc_now()
    _claim(dbs, projection)
    shadow = projection.shadow_tables()
    try:
        with batch_connections(dbs) as (conn, events):
            fill = Filling(conn, events, projection, shadow, batch_size)
            with conn.begin():
                for table in shadow:
                    table.drop(conn, checkfirst=True)
                    table.create(conn)
            while not fill.caught_up:
                with conn.begin():
                    fill.next_batch()
                    _beat(conn, projection)
            with locked_checkpoint(dbs, projection.name, SWAP_LOCK_TIMEOUT, connection=conn):
                fill.caught_up = False
                while not fill.caught_up:
                    fill.next_batch()
                _swap(conn, projection, shadow)
                _reset_checkpoint(conn, projection, fill.position)
    except Exception as error:
        log.exception("rebuild of %s failed", projection.name)
        _abandon(dbs, projection, shadow, error)
        raise
    # Catch-ups that found the checkpoint locked during the swap left their work to us.
    catch_up(dbs, projection)
    seconds = (utc_now() - started).total_seconds()
    log.info("rebuilt %s: %d events in %.1f s", projection.name, fill.applied, seconds)
    return RebuildResult(projection.name, fill.position, fill.applied, seconds)


@dataclass
class Filling:
    """Shadow tables being filled from the event log, batch by batch (on `conn`, reading
    events on `events`)."""

    conn: Connection
    events: Connection
    projection: Projection
    shadow: TableSet
    batch_size: int
    position: int = 0
    applied: int = 0
    caught_up: bool = False

    def next_batch(self) -> None:
        window = read_window(self.events, self.projection, self.position, self.batch_size)
        self.projection.apply_batch(self.conn, self.shadow, window.events)
        self.position, self.caught_up = window.upto, window.reaches_head
        self.applied += len(window.events)


def _beat(conn: Connection, projection: Projection) -> None:
    """Show the rebuild is alive: a rebuild whose heartbeat goes stale may be claimed again."""
    conn.execute(
        update(projection_checkpoints)
        .where(projection_checkpoints.c.name == projection.name)
        .values(rebuild_heartbeat_at=utc_now())
    )


def _reset_checkpoint(conn: Connection, projection: Projection, position: int) -> None:
    """The swapped-in tables are at `position`, with nothing parked or failing."""
    conn.execute(delete(parked_events).where(parked_events.c.projection == projection.name))
    now = utc_now()
    conn.execute(
        update(projection_checkpoints)
        .where(projection_checkpoints.c.name == projection.name)
        .values(
            position=position,
            version=projection.version,
            status="ok",
            updated_at=now,
            last_progress_at=now,
            failing_position=None,
            failing_attempts=0,
            retry_at=None,
            rebuild_heartbeat_at=None,
        )
    )


def _claim(dbs: Databases, projection: Projection) -> None:
    stale = utc_now() - STALE_REBUILD
    with dbs.read.begin() as conn:
        claimed = conn.execute(
            update(projection_checkpoints)
            .where(
                projection_checkpoints.c.name == projection.name,
                or_(
                    projection_checkpoints.c.status != "rebuilding",
                    projection_checkpoints.c.rebuild_heartbeat_at.is_(None),
                    projection_checkpoints.c.rebuild_heartbeat_at < stale,
                ),
            )
            .values(status="rebuilding", rebuild_heartbeat_at=utc_now())
        ).rowcount
    if claimed != 1:
        raise RebuildInProgress(projection.name)


def _swap(conn: Connection, projection: Projection, shadow: TableSet) -> None:
    postgres = not is_sqlite(conn.engine)
    for live in projection.tables:
        replacement = getattr(shadow, live.name)
        conn.execute(text(f'DROP TABLE "{live.name}"'))
        conn.execute(text(f'ALTER TABLE "{replacement.name}" RENAME TO "{live.name}"'))
        if postgres:
            conn.execute(
                text(
                    f'ALTER TABLE "{live.name}" RENAME CONSTRAINT '
                    f'"pk_{replacement.name}" TO "pk_{live.name}"'
                )
            )
            for index in replacement.indexes:
                live_name = str(index.name).removesuffix(SHADOW_SUFFIX)
                conn.execute(text(f'ALTER INDEX "{index.name}" RENAME TO "{live_name}"'))
        else:
            # SQLite cannot rename an index: recreate the live ones under their own names.
            for index in replacement.indexes:
                conn.execute(text(f'DROP INDEX "{index.name}"'))
            for index in live.indexes:
                index.create(conn)


def _abandon(dbs: Databases, projection: Projection, shadow: TableSet, error: Exception) -> None:
    with dbs.read.begin() as conn:
        for table in shadow:
            table.drop(conn, checkfirst=True)
        conn.execute(
            update(projection_checkpoints)
            .where(projection_checkpoints.c.name == projection.name)
            .values(
                status="ok",
                rebuild_heartbeat_at=None,
                last_error=f"rebuild failed: {error!r}"[:4000],
                last_error_at=utc_now(),
            )
        )

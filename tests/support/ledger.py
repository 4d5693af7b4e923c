"""A test projection that counts client events per client: applying an event twice, or
skipping one, changes its numbers. Faults are injected through a table the projector reads,
so a real worker process fails (or pauses) for real.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)

from domain import events
from domain.store.event_log import RecordedEvent
from domain.store.tables import NAMING_CONVENTION
from readmodels.projection import Projection, TableSet, key_by, upsert
from readmodels.tables import parked_events

metadata = MetaData(naming_convention=NAMING_CONVENTION)

test_ledger = Table(
    "test_ledger",
    metadata,
    Column("client_id", String(36), primary_key=True),
    Column("events", Integer, nullable=False),
    Column("position_sum", BigInteger, nullable=False),
)

faults_metadata = MetaData()
test_faults = Table(
    "test_faults",
    faults_metadata,
    Column("client_id", String(36), primary_key=True),
    Column("mode", String(10), nullable=False),  # "fail", "pause" or "slow"
)

PAUSE_MARKER_ENV = "TALLY_TEST_PAUSE_MARKER"
SLOW_SECONDS = 1.0  # well inside a task's 2 s time slice, so no successor is queued


def parked_positions(engine: Engine) -> list[int]:
    """The positions of the ledger's parked events, in order."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(parked_events.c.position)
                .where(parked_events.c.projection == test_ledger.name)
                .order_by(parked_events.c.position)
            ).scalars()
        )


def inject_fault(engine: Engine, client_id: object, mode: str) -> None:
    """Make the projector fail, pause or slow down on this client's events."""
    with engine.begin() as conn:
        conn.execute(insert(test_faults).values(client_id=str(client_id), mode=mode))


def on_client_event(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    client_id = event.data["client_id"]
    mode = conn.execute(
        select(test_faults.c.mode).where(test_faults.c.client_id == client_id)
    ).scalar_one_or_none()
    if mode == "fail":
        raise RuntimeError(f"injected fault for client {client_id}")
    row = conn.execute(
        select(t.test_ledger).where(t.test_ledger.c.client_id == client_id)
    ).one_or_none()
    events = (row.events if row else 0) + 1
    position_sum = (row.position_sum if row else 0) + event.position
    upsert(
        conn,
        t.test_ledger,
        {"client_id": client_id, "events": events, "position_sum": position_sum},
        ("client_id",),
    )
    if mode in ("pause", "slow"):
        marker = os.environ.get(PAUSE_MARKER_ENV)
        if marker:
            Path(marker).write_text(str(event.position))
        time.sleep(600 if mode == "pause" else SLOW_SECONDS)


projection = Projection(
    name="test_ledger",
    version=1,
    tables=(test_ledger,),
    handlers={events.ClientRegistered: on_client_event, events.ClientRenamed: on_client_event},
    key=key_by("client_id"),
)

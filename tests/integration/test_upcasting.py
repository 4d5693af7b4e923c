"""An event stored at an older schema version reaches projectors in the current shape."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select

from domain.store.event_log import RecordedEvent
from domain.store.tables import event_log
from readmodels import upcasting
from readmodels.catchup.failures import RetryPolicy
from readmodels.catchup.loop import catch_up
from readmodels.registry import PROJECTIONS
from readmodels.tables import parked_events, project_dashboards__clients
from tests.support.stack import Stack


def test_projectors_see_old_payloads_upcast_to_the_current_version(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend ClientRegistered v2 renamed "title" (v1) to "name": an old row is stored as v1.
    monkeypatch.setitem(upcasting.CURRENT_VERSIONS, "ClientRegistered", 2)

    def rename_title(data: dict[str, Any]) -> dict[str, Any]:
        return {"client_id": data["client_id"], "name": data["title"]}

    monkeypatch.setitem(upcasting.UPCASTERS, ("ClientRegistered", 1), rename_title)
    client_id = uuid.uuid4()
    with stack.databases.write.begin() as conn:
        conn.execute(
            insert(event_log).values(
                event_id=uuid.uuid4(),
                event_type="ClientRegistered",
                schema_version=1,
                aggregate_type="Client",
                aggregate_id=client_id,
                aggregate_version=1,
                data={"client_id": str(client_id), "title": "Old Style Ltd"},
                metadata={},
                recorded_at=dt.datetime.now(dt.UTC),
            )
        )
    catch_up(stack.databases, PROJECTIONS["project_dashboards"])
    with stack.databases.read.connect() as conn:
        name = conn.execute(select(project_dashboards__clients.c.name)).scalar_one()
    assert name == "Old Style Ltd"


def test_a_missing_upcaster_is_an_error_not_a_silent_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(upcasting.CURRENT_VERSIONS, "ClientRenamed", 3)
    old = RecordedEvent(
        position=1,
        event_id=uuid.uuid4(),
        event_type="ClientRenamed",
        schema_version=1,
        aggregate_type="Client",
        aggregate_id=uuid.uuid4(),
        aggregate_version=2,
        data={},
        metadata={},
        recorded_at=dt.datetime.now(dt.UTC),
    )
    with pytest.raises(LookupError, match="no upcaster"):
        upcasting.upcast(old)
    assert upcasting.CURRENT_VERSIONS["TimeLogged"] == 3


def test_an_event_without_its_upcaster_is_parked_and_other_keys_go_on(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy that forgot an upcaster stalls only the keys of the events it cannot read."""
    monkeypatch.setitem(upcasting.CURRENT_VERSIONS, "ClientRegistered", 2)
    old_style, current = uuid.uuid4(), uuid.uuid4()
    with stack.databases.write.begin() as conn:
        for client_id, version, name in ((old_style, 1, "Old Style Ltd"), (current, 2, "Now")):
            conn.execute(
                insert(event_log).values(
                    event_id=uuid.uuid4(),
                    event_type="ClientRegistered",
                    schema_version=version,
                    aggregate_type="Client",
                    aggregate_id=client_id,
                    aggregate_version=1,
                    data={"client_id": str(client_id), "name": name},
                    metadata={},
                    recorded_at=dt.datetime.now(dt.UTC),
                )
            )
    dashboards = PROJECTIONS["project_dashboards"]
    result = catch_up(stack.databases, dashboards, policy=RetryPolicy(max_attempts=1))
    assert result.caught_up
    with stack.databases.read.connect() as conn:
        names = conn.execute(select(project_dashboards__clients.c.name)).scalars().all()
        parked = conn.execute(select(parked_events.c.event_key, parked_events.c.error)).all()
    assert names == ["Now"]
    assert [key for key, _error in parked] == [str(old_style)]
    assert "no upcaster" in parked[0].error


def test_time_entry_events_of_version_1_name_no_actor_override_nothing_and_cost_nothing() -> None:
    data = {"entry_id": str(uuid.uuid4()), "before": None, "after": {"status": "submitted"}}
    for kind in upcasting.VERSIONED_TIME_ENTRY_EVENTS:
        event_type = kind.event_type
        old = RecordedEvent(
            position=1,
            event_id=uuid.uuid4(),
            event_type=event_type,
            schema_version=1,
            aggregate_type="TimeEntry",
            aggregate_id=uuid.uuid4(),
            aggregate_version=1,
            data=data,
            metadata={},
            recorded_at=dt.datetime.now(dt.UTC),
        )
        current = upcasting.upcast(old)
        assert current.schema_version == upcasting.CURRENT_VERSIONS[event_type]
        assert current.data == data | {
            "actor_id": None,
            "overrides": [],
            "after": {"status": "submitted", "cost_rate_cents": 0, "cost_cents": 0},
        }

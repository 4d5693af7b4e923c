"""Projectors name the events they apply by class; anything else fails when they are built."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection

from domain import events
from domain.store.event_log import RecordedEvent
from readmodels.projection import Projection, TableSet, key_by
from readmodels.registry import PROJECTIONS, by_name
from workers.delivery import GROUP


def ignore(conn: Connection, t: TableSet, event: RecordedEvent) -> None:
    pass


def projection(**fields: Any) -> Projection:
    values: dict[str, Any] = {
        "name": "example",
        "version": 1,
        "tables": (),
        "handlers": {events.ClientRegistered: ignore},
        "key": key_by("client_id"),
    } | fields
    return Projection(**values)


def test_a_projection_is_keyed_by_event_classes_and_applies_their_stored_names() -> None:
    built = projection(critical_events=frozenset({events.ClientRegistered}))
    assert built.event_types == {"ClientRegistered"}
    assert built.critical_event_types == {"ClientRegistered"}


def test_an_event_class_is_stored_under_its_name() -> None:
    event = events.ClientRegistered(client_id=uuid.uuid4(), name="Acme")
    assert events.ClientRegistered.event_type == event.event_type == "ClientRegistered"


def test_a_projection_naming_an_event_by_string_fails_when_built() -> None:
    with pytest.raises(TypeError, match="not an event class"):
        projection(handlers={"ClientRegistered": ignore})


def test_a_projection_naming_a_class_that_is_not_an_event_fails_when_built() -> None:
    with pytest.raises(TypeError, match="not an event class"):
        projection(handlers={dict: ignore})


def test_a_projection_naming_an_event_unknown_to_the_domain_fails_when_built() -> None:
    @dataclass(frozen=True)
    class ClientMerged(events.Event):
        client_id: uuid.UUID

    with pytest.raises(LookupError, match="ClientMerged"):
        projection(handlers={ClientMerged: ignore})


def test_a_projection_naming_a_base_class_of_events_fails_when_built() -> None:
    with pytest.raises(LookupError, match="TimeEntryEvent"):
        projection(handlers={events.TimeEntryEvent: ignore})


def test_critical_events_are_events_the_projection_applies() -> None:
    with pytest.raises(ValueError, match="critical"):
        projection(critical_events=frozenset({events.ProjectCreated}))


def test_two_projections_of_one_name_fail_the_registry() -> None:
    with pytest.raises(ValueError, match="example"):
        by_name([projection(), projection()])


def test_every_registered_projection_applies_only_events_of_the_domain() -> None:
    recorded = {
        kind.event_type
        for kind in vars(events).values()
        if isinstance(kind, type) and issubclass(kind, events.Event)
    }
    for registered in PROJECTIONS.values():
        assert registered.event_types <= recorded


def test_no_projection_shares_the_group_catch_ups_wakeup_flag() -> None:
    assert GROUP not in PROJECTIONS

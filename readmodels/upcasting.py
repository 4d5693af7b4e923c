"""Event schema evolution: an upcaster turns a payload stored at an older schema_version
into the next version's; events are brought to their class's current version before any
projector sees them, so projectors only ever know the current shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from domain import events
from domain.store.event_log import RecordedEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _unattributed(data: dict[str, Any]) -> dict[str, Any]:
    """Time-entry events v1 -> v2: an event from before actors were recorded names none, and
    overrode no rule."""
    return {"actor_id": None, "overrides": []} | data


def _uncosted(data: dict[str, Any]) -> dict[str, Any]:
    """Time-entry events v2 -> v3: entries logged before costs were captured cost nothing
    (the write migration gave their rows a cost of 0 too)."""
    return data | {
        side: None if data[side] is None else {"cost_rate_cents": 0, "cost_cents": 0} | data[side]
        for side in ("before", "after")
    }


# The time-entry events that were recorded before version 3 (TimeEntrySubmitted was not).
VERSIONED_TIME_ENTRY_EVENTS: tuple[type[events.Event], ...] = (
    events.TimeLogged,
    events.TimeEntryAmended,
    events.TimeEntryDeleted,
    events.TimeEntryApproved,
    events.TimeEntryRejected,
)

# (event type as stored, version it upgrades from) -> the function producing the next version.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    (kind.event_type, version): step
    for kind in VERSIONED_TIME_ENTRY_EVENTS
    for version, step in ((1, _unattributed), (2, _uncosted))
}


def _current_versions() -> dict[str, int]:
    found: dict[str, int] = {}
    pending: list[type[events.Event]] = [events.Event]
    while pending:
        kind = pending.pop()
        found[kind.event_type] = kind.schema_version
        pending.extend(kind.__subclasses__())
    return found


CURRENT_VERSIONS = _current_versions()


def upcast(event: RecordedEvent) -> RecordedEvent:
    target = CURRENT_VERSIONS.get(event.event_type, event.schema_version)
    if event.schema_version >= target:
        return event
    data, version = event.data, event.schema_version
    while version < target:
        try:
            step = UPCASTERS[(event.event_type, version)]
        except KeyError:
            raise LookupError(
                f"no upcaster for {event.event_type} from schema version {version}"
            ) from None
        data, version = step(data), version + 1
    return dataclasses.replace(event, data=data, schema_version=version)

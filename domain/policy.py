"""The firm's rules that depend on configuration or the clock, handed to command handlers
through the unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Policy:
    """max_future_days: how far past today an entry may be dated (0: no future time);
    allow_self_approval: whether a manager may approve or reject their own time."""

    max_future_days: int = 0
    allow_self_approval: bool = False
    today: Callable[[], dt.date] = utc_today

    def latest_entry_date(self) -> dt.date:
        return self.today() + dt.timedelta(days=self.max_future_days)

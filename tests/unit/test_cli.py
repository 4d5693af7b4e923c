"""`tally worker` options: the defaults it adds, and the ones it leaves to the caller."""

from __future__ import annotations

import pytest

from api.cli import worker_defaults
from readmodels.registry import PROJECTIONS


def test_a_worker_gets_a_slot_per_projection_plus_one_by_default() -> None:
    assert worker_defaults(["--pool", "threads"]) == ["--concurrency", str(len(PROJECTIONS) + 1)]


@pytest.mark.parametrize("given", [["-c", "3"], ["--concurrency", "3"], ["--concurrency=3"]])
def test_a_concurrency_given_is_left_alone(given: list[str]) -> None:
    assert worker_defaults(given) == []

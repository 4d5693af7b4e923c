"""`tally worker` options: the defaults it adds, and the ones it leaves to the caller."""

from __future__ import annotations

import pytest

from cli.processes import worker_concurrency
from readmodels.registry import PROJECTIONS


def test_a_worker_gets_a_slot_per_projection_plus_one_by_default() -> None:
    assert worker_concurrency(["--pool", "threads"]) == [
        "--concurrency",
        str(len(PROJECTIONS) + 1),
    ]


@pytest.mark.parametrize("given", [["-c", "3"], ["--concurrency", "3"], ["--concurrency=3"]])
def test_a_concurrency_given_is_left_alone(given: list[str]) -> None:
    assert worker_concurrency(given) == []


@pytest.mark.parametrize("given", [["--pool", "solo"], ["-P", "solo"], ["--pool=solo"]])
def test_a_solo_worker_gets_no_more_slots_than_it_runs(given: list[str]) -> None:
    assert worker_concurrency([*given, "--loglevel", "INFO"]) == []

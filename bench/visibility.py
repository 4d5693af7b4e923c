"""When each position became visible in each projection, watched from a process of its own.

The watcher polls the checkpoints on one autocommit connection (one round trip per poll) and
records (time, positions). Run in the load generator's process, its polls would wait for the
interpreter lock behind the command lanes, and the lag it reports would include that wait.
Times are time.monotonic(), one clock for every process on the machine (CLOCK_MONOTONIC).
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from readmodels.tables import projection_checkpoints

POLL_SECONDS = 0.005


def watch(url: str, stop: Any, out: str) -> None:
    """Poll until `stop` is set, then write the timeline to `out` as JSON."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    query = select(projection_checkpoints.c.name, projection_checkpoints.c.position)
    timeline: list[tuple[float, dict[str, int]]] = []
    with engine.connect() as conn:
        # One poll after `stop` is set too: the run stops its watcher once every checkpoint has
        # reached the last position, which a poll made just before would not have seen.
        while True:
            stopping = stop.is_set()
            positions = dict(conn.execute(query).all())
            timeline.append((time.monotonic(), positions))
            if stopping:
                break
            time.sleep(POLL_SECONDS)
    engine.dispose()
    Path(out).write_text(json.dumps(timeline))


class Timeline:
    """The polls of one run; a checkpoint only moves forward, so both lists stay sorted."""

    def __init__(self, polls: list[tuple[float, dict[str, int]]]) -> None:
        self.times = [at for at, _ in polls]
        names = {name for _, positions in polls for name in positions}
        self.positions = {
            name: [positions.get(name, 0) for _, positions in polls] for name in names
        }

    def visible_at(self, name: str, position: int, after: float) -> float | None:
        """The time of the first poll at or after `after` that saw `position` or beyond."""
        first = max(
            bisect.bisect_left(self.times, after),
            bisect.bisect_left(self.positions[name], position),
        )
        return self.times[first] if first < len(self.times) else None


class Watcher:
    """Runs `watch` in a spawned process (no inherited threads or connections)."""

    def __init__(self, url: str, folder: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._out = str(Path(folder) / "visibility.json")
        self._stop = context.Event()
        self._process = context.Process(target=watch, args=(url, self._stop, self._out))

    def start(self) -> None:
        self._process.start()

    def stop(self) -> Timeline:
        self._stop.set()
        self._process.join()
        return Timeline(
            [(at, positions) for at, positions in json.loads(Path(self._out).read_text())]
        )

"""The HTTP sections: reads, writes and contention, measured from outside with wrk against
the API under gunicorn as `tally serve` runs it and the worker as `tally worker` runs it,
each beside its baseline (the live join, a CRUD path) and its ceiling (a minimal Flask +
psycopg app under the same gunicorn settings)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url

from bench import ceilings, firm, stack, world
from domain.store import tables
from readmodels.registry import PROJECTIONS
from readmodels.tables import projection_checkpoints
from workers.celery_app import make_celery

Request = tuple[str, str, str | None]
API = "/api/v1"


@dataclass(frozen=True)
class Timing:
    """How long each kind of wrk run lasts (and its unmeasured warm-up before)."""

    load_seconds: float
    warmup_seconds: float
    latency_seconds: float


FULL = Timing(load_seconds=20, warmup_seconds=3, latency_seconds=4)
QUICK = Timing(load_seconds=3, warmup_seconds=1, latency_seconds=1)


class Stack:
    """The servers of one bench run: Tally (`tally serve`), the bench app (Tally plus the
    baselines' routes), the two ceilings, and the worker when it is wanted."""

    def __init__(self, f: firm.Firm, folder: Path, timing: Timing) -> None:
        self.firm = f
        self.folder = folder
        self.timing = timing
        settings = f.settings
        self.env = firm.environment(settings) | {
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
            "TALLY_BENCH_DSN": make_url(settings.database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False),
        }
        (folder / "metrics").mkdir(parents=True, exist_ok=True)
        self.ports = {name: stack.free_port() for name in ("tally", "bench", "read", "write")}
        self.processes: dict[str, stack.Process] = {}
        self.worker: stack.Process | None = None
        self._exit = ExitStack()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def __enter__(self) -> Stack:
        with self.firm.databases.write.begin() as conn:
            conn.execute(text(ceilings.WRITES_TABLE))
        apps = {
            "bench": "bench.app:create_app()",
            "read": "bench.ceilings:read_app()",
            "write": "bench.ceilings:write_app()",
        }
        argvs = {"tally": stack.tally_serve_argv(self.ports["tally"])} | {
            name: stack.serve_argv(self.firm.settings, app, self.ports[name])
            for name, app in apps.items()
        }
        for name, argv in argvs.items():
            self.processes[name] = self._exit.enter_context(
                stack.server(name, argv, self.env, self.folder, self.ports[name])
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_worker()
        self._exit.close()

    def start_worker(self) -> None:
        """Start `tally worker` and wait until it has caught every projection up."""
        if self.worker is None:
            self.worker = stack.start("worker", stack.tally_worker_argv(), self.env, self.folder)
            stack.wait_for_log(self.worker, " ready.")
            self.settle()

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def _head(self) -> int:
        with self.firm.databases.write_autocommit.connect() as conn:
            return int(conn.execute(select(func.max(tables.event_log.c.position))).scalar_one())

    def settle(self, timeout: float = 600) -> None:
        """Wait until every projection has reached the head of the log, a worker running.
        Each is woken to the head first: commands wake only the projections their events
        concern (and none while the worker was stopped), and no beat sweeps here."""
        if self.worker is None:
            self.start_worker()
            return
        dbs = self.firm.databases
        head = self._head()
        make_celery(self.firm.settings).delivery.wake(list(PROJECTIONS), head)
        deadline = time.monotonic() + timeout
        query = select(func.min(projection_checkpoints.c.position))
        with dbs.read_autocommit.connect() as conn:
            while conn.execute(query).scalar_one() < head:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the projections did not reach {head} in {timeout} s")
                time.sleep(0.2)

    def load(
        self, server: str, requests: Sequence[Request], connections: int, seconds: float
    ) -> stack.Load:
        token = None if server in ("read", "write") else self.firm.token
        return stack.wrk(self.url(server), requests, token, connections, seconds)

    def measure(
        self,
        server: str,
        requests: Sequence[Request],
        connections: int,
        seconds: float | None = None,
        cpu: dict[str, stack.Process | None] | None = None,
    ) -> dict[str, Any]:
        """A warm-up, then one measured wrk run; with `cpu`, the CPU each group used per
        request, in ms."""
        self.load(server, requests, connections, self.timing.warmup_seconds).result()
        meter = stack.CpuMeter(cpu or {}, self.firm.databases.write, self._database())
        meter.start()
        result = self.load(server, requests, connections, seconds or self.timing.load_seconds)
        measured = result.result()
        if cpu is not None:
            used = meter.stop()
            measured["cpu_ms_per_request"] = {
                name: round(seconds_used * 1000 / measured["requests"], 3)
                for name, seconds_used in used.items()
            }
        return measured

    def _database(self) -> str:
        return str(make_url(self.firm.settings.database_url).database)


def _get(path: str) -> Request:
    return ("GET", path, None)


def _cycle(items: Sequence[Any], seed: int, limit: int = 5000) -> list[Any]:
    chosen = list(items)
    random.Random(seed).shuffle(chosen)
    return chosen[:limit]


def read_requests(f: firm.Firm) -> dict[str, list[Request]]:
    """What each read endpoint is asked, cycling over the firm's projects."""
    projects = [project for project, _ in f.sizes]
    date_from, date_to = f.ranges()["quarter"]
    span = f"from={date_from}&to={date_to}"
    return {
        "dashboard": [_get(f"{API}/projects/{p}/dashboard") for p in _cycle(projects, 1)],
        "project list": [_get(f"{API}/projects")],
        "time-entry list (a project's)": [
            _get(f"{API}/time-entries?project_id={p}") for p in _cycle(projects, 2)
        ],
        "utilization, a quarter": [_get(f"{API}/reports/utilization?{span}")],
        "revenue, a quarter": [_get(f"{API}/reports/revenue?{span}")],
        "budget burn (a project's)": [
            _get(f"{API}/reports/budget-burn?project_id={p}") for p in _cycle(projects, 3)
        ],
    }


LIVE = API + "/bench/live"


def bench_reads(s: Stack) -> dict[str, Any]:
    """Every read endpoint at 16 connections, against the read ceiling; then the latency of
    the read model against the live join by project size and by report range."""
    f = s.firm
    ceiling_paths = [_get(f"/projects/{p}/dashboard") for p in _cycle([p for p, _ in f.sizes], 1)]
    ceilings_measured = [s.measure("read", ceiling_paths, 16)]
    throughput = {
        name: s.measure("tally", requests, 16) for name, requests in read_requests(f).items()
    }
    ceilings_measured.append(s.measure("read", ceiling_paths, 16))
    ceiling = best(ceilings_measured)
    for result in throughput.values():
        result["of_ceiling"] = round(result["requests_per_s"] / ceiling["requests_per_s"], 3)
    by_size = {}
    for target in (1_000, 10_000, 100_000):
        project, entries = f.nearest(target)
        if any(row["entries"] == entries for row in by_size.values()):
            continue
        cases = {
            "dashboard": f"/projects/{project}/dashboard",
            "time-entry list": f"/time-entries?project_id={project}",
            "budget burn": f"/reports/budget-burn?project_id={project}",
        }
        by_size[f"{entries:,} entries"] = {"entries": entries} | {
            name: _versus(s, path) for name, path in cases.items()
        }
    by_range = {}
    for label, (date_from, date_to) in f.ranges().items():
        span = f"from={date_from}&to={date_to}"
        by_range[f"{label} ({date_from} to {date_to})"] = {
            "utilization": _versus(s, f"/reports/utilization?{span}"),
            "revenue": _versus(s, f"/reports/revenue?{span}"),
        }
    return {
        "connections": 16,
        "seconds": s.timing.load_seconds,
        "ceiling": ceiling,
        "ceiling_runs": ceilings_measured,
        "endpoints": throughput,
        "by_project_size": by_size,
        "by_report_range": by_range,
    }


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ceiling: the best of its runs (one before the figures it bounds, one after; on a
    shared machine a single run may fall in a busy moment)."""
    return max(runs, key=lambda run: run["requests_per_s"])


def _versus(s: Stack, path: str) -> dict[str, Any]:
    """One request at a time for a few seconds: the read model's route against the live
    join's, both served by the bench app."""
    url, token, seconds = s.url("bench"), s.firm.token, s.timing.latency_seconds
    read_model = stack.one_at_a_time(url, API + path, token, seconds)
    live = stack.one_at_a_time(url, LIVE + path, token, seconds)
    return {
        "read_model": read_model,
        "live_join": live,
        "p50_speedup": round(live["p50_ms"] / read_model["p50_ms"], 1),
    }


class Bodies:
    """LogTime bodies for open projects' members on the bench's own days, never repeated
    within a run (a person's day holds 96 of these quarter hours before the daily limit)."""

    def __init__(self, f: firm.Firm, seed: int) -> None:
        self.team = f.team
        self.rng = random.Random(seed)

    def take(self, count: int, notes: str | None = None) -> list[str]:
        bodies = []
        for _ in range(count):
            project, person = self.rng.choice(self.team)
            body = {
                "project_id": str(project),
                "person_id": str(person),
                "date": world.random_day(self.rng).isoformat(),
                "hours": 0.25,
                "billable": True,
            } | ({"notes": notes} if notes else {})
            bodies.append(json.dumps(body))
        return bodies


def _posts(path: str, bodies: list[str]) -> list[Request]:
    return [("POST", path, body) for body in bodies]


CRUD_NOTES = "bench: CRUD baseline, removed after its run"


def bench_writes(s: Stack, bodies: Bodies) -> dict[str, Any]:
    """POST /time-entries at 8 connections: pipeline on (worker running), pipeline off
    (worker stopped), the CRUD path (no event), and the write ceiling; CPU per command."""
    count = round(1000 * (s.timing.load_seconds + s.timing.warmup_seconds))
    tally, bench_app, write_app = s.processes["tally"], s.processes["bench"], s.processes["write"]

    def ceiling_run() -> dict[str, Any]:
        posts = _posts("/time-entries", bodies.take(count))
        return s.measure("write", posts, 8, cpu={"api": write_app})

    ceilings_measured = [ceiling_run()]
    s.start_worker()
    on = s.measure(
        "tally",
        _posts(API + "/time-entries", bodies.take(count)),
        8,
        cpu={"api": tally, "worker": s.worker},
    )
    s.stop_worker()
    off = s.measure(
        "tally", _posts(API + "/time-entries", bodies.take(count)), 8, cpu={"api": tally}
    )
    crud = s.measure(
        "bench",
        _posts(API + "/bench/crud/time-entries", bodies.take(count, CRUD_NOTES)),
        8,
        cpu={"api": bench_app},
    )
    ceilings_measured.append(ceiling_run())
    ceiling = best(ceilings_measured)
    with s.firm.databases.write.begin() as conn:
        # Rows without events would be drift to `tally projections verify`.
        conn.execute(delete(tables.time_entries).where(tables.time_entries.c.notes == CRUD_NOTES))
        conn.execute(text("TRUNCATE bench_ceiling_writes"))
    s.start_worker()
    rows = {"pipeline on": on, "pipeline off": off, "CRUD, no event": crud}
    for row in rows.values():
        row["of_ceiling"] = round(row["requests_per_s"] / ceiling["requests_per_s"], 3)
    return {
        "connections": 8,
        "seconds": s.timing.load_seconds,
        "ceiling": ceiling,
        "ceiling_runs": ceilings_measured,
        "runs": rows,
        "on_over_off": round(on["requests_per_s"] / off["requests_per_s"], 3),
        "on_over_crud": round(on["requests_per_s"] / crud["requests_per_s"], 3),
    }


def bench_contention(s: Stack, bodies: Bodies, ceiling: dict[str, Any] | None) -> dict[str, Any]:
    """Write latency (8 connections, worker running) alone, then while 4 connections run the
    quarter's utilization report from the read model, then from the live join; with the
    write ceiling measured, each write figure as a fraction of it."""
    date_from, date_to = s.firm.ranges()["quarter"]
    report = f"/reports/utilization?from={date_from}&to={date_to}"
    count = round(1000 * (s.timing.load_seconds + s.timing.warmup_seconds))
    s.start_worker()
    results: dict[str, Any] = {}
    for name, path in (
        ("no report load", None),
        ("read model", API + report),
        ("live join", LIVE + report),
    ):
        with _background(s, path, s.timing.load_seconds + 2) as reports:
            time.sleep(1 if path else 0)
            writes = s.measure("tally", _posts(API + "/time-entries", bodies.take(count)), 8)
        results[name] = {"writes": writes, "reports": reports.get("result")}
    if ceiling is not None:
        for row in results.values():
            row["writes"]["of_ceiling"] = round(
                row["writes"]["requests_per_s"] / ceiling["requests_per_s"], 3
            )
    alone = results["no report load"]["writes"]
    for name in ("read model", "live join"):
        writes = results[name]["writes"]
        results[name]["p99_over_alone"] = round(writes["p99_ms"] / alone["p99_ms"], 2)
        results[name]["throughput_of_alone"] = round(
            writes["requests_per_s"] / alone["requests_per_s"], 3
        )
    return {"report": report, "report_connections": 4, "write_connections": 8} | results


@contextmanager
def _background(s: Stack, path: str | None, seconds: float) -> Iterator[dict[str, Any]]:
    """The report load for `seconds` plus the writes' warm-up, on the bench app."""
    holder: dict[str, Any] = {}
    if path is None:
        yield holder
        return
    load = s.load("bench", [_get(path)], 4, seconds + s.timing.warmup_seconds)
    try:
        yield holder
    finally:
        holder["result"] = load.result()

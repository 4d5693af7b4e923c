"""python -m bench: Tally on a large firm, through HTTP and in process (reads, writes,
contention, commands, projection lag, rebuilds), each figure beside its baseline and its
ceiling in the same run. Prints a table and writes JSON.

    python -m bench                     # everything, the full firm (40 to 50 minutes)
    python -m bench --quick             # the small firm, short runs: a smoke run
    python -m bench --only reads,lag    # some of: reads, writes, contention, commands,
                                        # lag, rebuild
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from bench import firm, stack, stats, through_http, visibility, world
from cli import processes
from domain import commands, handlers
from domain.settings import Settings
from readmodels.registry import PROJECTIONS
from readmodels.tables import projection_checkpoints
from service.commands import CommandService, Metadata
from workers.celery_app import make_celery
from workers.delivery import BackgroundWaker

# The read models a LogTime changes: the lag section times when each shows the entry.
SHOWING_LOGGED_TIME = [p.name for p in PROJECTIONS.values() if "TimeLogged" in p.event_types]

ROOT = Path(__file__).resolve().parents[1]
# Projection work waits on the database most of the time: threads overlap it cheaply.
WORKER_POOL = os.environ.get("TALLY_BENCH_POOL", "--pool threads --concurrency 6").split()
# The lag run's load generator: commands wait on the database most of the time, so a few
# threads keep a fixed schedule that one thread could not (a slow command delays no other).
DRIVERS = 4


class Logger:
    """Issues LogTime commands spread over many people and days (stays under 24 h/day)."""

    def __init__(self, w: world.World, seed: int) -> None:
        self.w = w
        self.rng = random.Random(seed)

    def command(self) -> commands.LogTime:
        project_id, person_id = self.rng.choice(self.w.team)
        return commands.LogTime(
            project_id=project_id,
            person_id=person_id,
            date=world.random_day(self.rng),
            hours_hundredths=25,
            billable=self.rng.random() < 0.8,
        )


def start_worker(settings: Settings, home: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TALLY_DATABASE_URL": settings.database_url,
        "TALLY_BROKER_URL": settings.broker_url,
        "TALLY_HOME_DIR": home,
        "TALLY_PROJECTION_LINGER_MS": str(settings.projection_linger * 1000),
        "PYTHONPATH": str(ROOT),
    }
    log = open(Path(home) / "worker.log", "wb")  # noqa: SIM115 - lives as long as the worker
    options = [
        *WORKER_POOL,
        *("--loglevel", os.environ.get("TALLY_BENCH_WORKER_LOGLEVEL", "WARNING")),
        *("--without-mingle", "--without-gossip"),
    ]
    # Without task events and the shared metrics folder: the measured worker does no
    # monitoring work.
    worker = subprocess.Popen(
        processes.worker(settings, options, task_events=False).argv,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    time.sleep(4)
    return worker


def bench_commands(w: world.World, repeat: int, home: str) -> dict[str, Any]:
    """LogTime through the handler alone (pipeline off) and with delivery (pipeline on)."""
    logger = Logger(w, 2)
    celery = make_celery(w.settings)
    service = CommandService(
        w.databases,
        BackgroundWaker(celery.delivery),
        w.settings.policy,
        sync_timeout=w.settings.sync_timeout,
    )

    def handler_alone() -> None:
        cmd = logger.command()
        handlers.handle(cmd, service.unit_of_work(Metadata(), cmd))

    off = stats.timed(handler_alone, repeat)
    worker = start_worker(w.settings, home)
    try:
        on = stats.timed(lambda: service.execute(logger.command()), repeat)
    finally:
        worker.terminate()
        worker.wait()
    off_summary, on_summary = stats.summary_ms(off), stats.summary_ms(on)
    return {
        "pipeline_off": off_summary,
        "pipeline_on": on_summary,
        "p50_overhead_ms": round(on_summary["p50_ms"] - off_summary["p50_ms"], 3),
    }


def bench_lag(
    w: world.World, seconds: float, rate: float, home: str, warmup: float, pairs: int
) -> dict[str, Any]:
    """The baseline, a worker that never lingers after a batch (as before
    TALLY_PROJECTION_LINGER_MS), against the worker as configured: `pairs` runs of each,
    alternated (this machine's speed drifts within minutes), their lags pooled per side."""
    sides = {
        "baseline": w.settings.with_changes(projection_linger=0.0),
        "tally": w.settings,
    }
    runs: dict[str, list[LagRun]] = {side: [] for side in sides}
    for pair in range(pairs):
        for side in list(sides)[:: 1 if pair % 2 == 0 else -1]:
            runs[side].append(lag_run(w, sides[side], seconds, rate, home, warmup))
    return {
        "rate_asked": rate,
        "seconds_per_run": seconds,
        "warmup_seconds": warmup,
        "linger_ms": w.settings.projection_linger * 1000,
    } | {side: pooled(side_runs) for side, side_runs in runs.items()}


@dataclass
class LagRun:
    achieved_rate: float
    late_starts: int
    lags: dict[str, list[float]]
    missing: dict[str, int]
    queue_lengths: list[int]


def pooled(runs: list[LagRun]) -> dict[str, Any]:
    queue_lengths = [length for run in runs for length in run.queue_lengths]
    results: dict[str, Any] = {
        "achieved_rates": [run.achieved_rate for run in runs],
        "late_starts": sum(run.late_starts for run in runs),
        "queue_length": {
            "max": max(queue_lengths, default=0),
            "mean": round(sum(queue_lengths) / max(len(queue_lengths), 1), 2),
            "samples": len(queue_lengths),
        },
    }
    for name in SHOWING_LOGGED_TIME:
        lags = [lag for run in runs for lag in run.lags[name]]
        results[name] = stats.summary_ms(lags) | {
            "missing": sum(run.missing[name] for run in runs),
            "p99_ms_each_run": [stats.summary_ms(run.lags[name])["p99_ms"] for run in runs],
        }
    return results


def lag_run(
    w: world.World, settings: Settings, seconds: float, rate: float, home: str, warmup: float
) -> LagRun:
    """Commit-to-visible lag per projection at a steady command rate, queue length sampled.

    The same load runs for `warmup` seconds first, unmeasured: the worker opens its database
    connections and PostgreSQL prepares its statements then, as in any long-running worker.
    """
    celery = make_celery(w.settings)
    # The worker alone projects: lag is measured from commit to the worker's checkpoint.
    service = CommandService(
        w.databases, BackgroundWaker(celery.delivery), w.settings.policy, catch_up_critical=False
    )
    queue = redis.Redis.from_url(w.settings.broker_url)
    worker = start_worker(settings, home)
    committed: dict[int, float] = {}  # position -> time.monotonic() when its command returned
    started_late: list[float] = []  # how far behind its schedule each command started
    queue_lengths: list[int] = []
    stop = threading.Event()
    watcher = visibility.Watcher(w.settings.read_database_url, home)

    def sample_queue() -> None:
        while not stop.is_set():
            if time.perf_counter() >= measured_from:
                queue_lengths.append(int(queue.llen("tally")))
            time.sleep(0.02)

    def drive(lane: int) -> None:
        """One of DRIVERS open-loop lanes: command k of this lane is due at a fixed time,
        whether or not the previous one has returned late."""
        logger = Logger(w, 3 + lane)
        due = start + lane / rate
        while due < deadline:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif due >= measured_from:
                started_late.append(-delay)
            outcome = service.execute(logger.command()).outcome
            if due >= measured_from:
                committed[outcome.position] = time.monotonic()  # type: ignore[index]
            due += DRIVERS / rate

    start = time.perf_counter()
    measured_from = start + warmup
    deadline = measured_from + seconds
    sampler = threading.Thread(target=sample_queue)
    drivers = [threading.Thread(target=drive, args=(lane,)) for lane in range(DRIVERS)]
    watcher.start()
    for thread in [sampler, *drivers]:
        thread.start()
    try:
        for thread in drivers:
            thread.join()
        driving_ended = time.perf_counter()
        achieved = len(committed) / (driving_ended - measured_from)
        settle(w, max(committed, default=0), timeout=30)
    finally:
        stop.set()
        sampler.join()
        try:
            timeline = watcher.stop()
        finally:
            worker.terminate()
            worker.wait()
    lags: dict[str, list[float]] = {}
    missing: dict[str, int] = {}
    for name in SHOWING_LOGGED_TIME:
        seen_at = {p: timeline.visible_at(name, p, at) for p, at in committed.items()}
        lags[name] = [seen - committed[p] for p, seen in seen_at.items() if seen is not None]
        missing[name] = len(committed) - len(lags[name])
    return LagRun(round(achieved, 1), len(started_late), lags, missing, queue_lengths)


def settle(w: world.World, position: int, timeout: float) -> None:
    """Wait until every projection has reached position (or the timeout has passed)."""
    deadline = time.monotonic() + timeout
    query = select(func.min(projection_checkpoints.c.position))
    with w.databases.read_autocommit.connect() as conn:
        while conn.execute(query).scalar_one() < position and time.monotonic() < deadline:
            time.sleep(0.01)


def print_table(report: dict[str, Any]) -> None:
    lines = []
    if "firm" in report:
        lines += firm_lines(report["firm"])
    if "reads" in report:
        lines += read_lines(report["reads"])
    if "writes" in report:
        lines += write_lines(report["writes"])
    if "contention" in report:
        lines += contention_lines(report["contention"])
    if "commands" in report:
        row = report["commands"]
        lines += [
            "",
            "commands (in process, LogTime through the handler)",
            f"  {'pipeline off vs on':40} {_p(row['pipeline_off']):>24} "
            f"{_p(row['pipeline_on']):>24} {row['p50_overhead_ms']:>+7.2f} ms",
        ]
    if "lag" in report:
        lines += lag_lines(report["lag"])
    if "rebuild" in report:
        row = report["rebuild"]
        lines += [
            "",
            f"rebuild from the firm's log, {row['events']:,} events ({row['when']}), "
            f"{row['jobs']} projections at a time: "
            f"all {len(PROJECTIONS)} in {row['seconds_all']} s",
        ]
        for name in PROJECTIONS:
            result = row[name]
            lines.append(
                f"  {name:40} {result['log_events_per_s']:>9,} events/s  ({result['seconds']} s)"
            )
    if "seconds" in report:
        lines += [
            "",
            f"run: {sum(report['seconds'].values()):,.0f} s; "
            + ", ".join(
                f"{name} {seconds:,.0f} s (load {report['load_average_after'][name][0]:.1f})"
                for name, seconds in report["seconds"].items()
            ),
        ]
    print("\n".join(lines))


def firm_lines(summary: dict[str, Any]) -> list[str]:
    scale = summary["scale"]
    return [
        "",
        f"firm ({scale['name']}): {summary['entries']:,} time entries "
        f"({summary['deleted_entries']:,} more deleted), {summary['events']:,} events, "
        f"{scale['people']} people, {scale['clients']} clients, {scale['projects']:,} projects; "
        f"{'built in this run' if summary['built_now'] else 'cached'}: loaded in "
        f"{summary['load_seconds']} s, built (load, rebuild, verify) in "
        f"{summary['build_seconds']} s, `tally projections verify` clean",
    ]


def _rps(row: dict[str, Any]) -> str:
    return (
        f"{row['requests_per_s']:>8,.0f}/s  p50 {row['p50_ms']:>7.2f}  p99 {row['p99_ms']:>7.2f} ms"
    )


def read_lines(reads: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"reads through HTTP, {reads['connections']} connections, {reads['seconds']:g} s each "
        "(fraction of the read ceiling)",
        f"  {'ceiling: Flask + psycopg, dashboard row':40} {_rps(reads['ceiling'])}",
    ]
    for name, row in reads["endpoints"].items():
        lines.append(f"  {name:40} {_rps(row)}  {row['of_ceiling']:>6.2f}")
    lines += ["", "read model vs live join, one connection, p50 (speed-up)"]
    for label, cases in reads["by_project_size"].items():
        for name, versus in cases.items():
            if name != "entries":
                lines.append(_versus_line(f"{name}, project of {label}", versus))
    for label, cases in reads["by_report_range"].items():
        for name, versus in cases.items():
            lines.append(_versus_line(f"{name}, {label}", versus))
    return lines


def _versus_line(name: str, versus: dict[str, Any]) -> str:
    return (
        f"  {name:60} {versus['read_model']['p50_ms']:>9.2f} ms vs "
        f"{versus['live_join']['p50_ms']:>9.2f} ms  {versus['p50_speedup']:>7}x"
    )


def write_lines(writes: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"writes through HTTP, POST /time-entries, {writes['connections']} connections, "
        f"{writes['seconds']:g} s each (fraction of the write ceiling; CPU ms per command)",
        f"  {'ceiling: Flask + psycopg, one INSERT':40} {_rps(writes['ceiling'])}"
        f"        {_cpu(writes['ceiling'])}",
    ]
    for name, row in writes["runs"].items():
        lines.append(f"  {name:40} {_rps(row)}  {row['of_ceiling']:>6.2f}  {_cpu(row)}")
    lines.append(
        f"  pipeline on / off {writes['on_over_off']:.2f}; on / CRUD {writes['on_over_crud']:.2f}"
    )
    return lines


def _cpu(row: dict[str, Any]) -> str:
    return ", ".join(f"{name} {ms:.2f}" for name, ms in row["cpu_ms_per_request"].items())


def contention_lines(contention: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"contention: writes ({contention['write_connections']} connections) while "
        f"{contention['report_connections']} connections run {contention['report']}",
        f"  {'writes, no report load':40} {_rps(contention['no report load']['writes'])}"
        f"  {_of_ceiling(contention['no report load']['writes'])}",
    ]
    for name in ("read model", "live join"):
        row = contention[name]
        lines.append(
            f"  {'writes, reports from the ' + name:40} {_rps(row['writes'])}"
            f"  {_of_ceiling(row['writes'])}  p99 x{row['p99_over_alone']:.2f};"
            f" reports {row['reports']['requests_per_s']:,.1f}/s"
        )
    return lines


def _of_ceiling(row: dict[str, Any]) -> str:
    return f"{row['of_ceiling']:>6.2f}" if "of_ceiling" in row else ""


def lag_lines(lag: dict[str, Any]) -> list[str]:
    baseline, tally = lag["baseline"], lag["tally"]
    runs = len(tally["achieved_rates"])
    lines = [
        "",
        f"commit-to-visible lag, {lag['rate_asked']:g} cmd/s asked, {runs} alternated runs "
        f"of {lag['seconds_per_run']:g} s a side: worker lingering 0 ms (baseline) vs "
        f"{lag['linger_ms']:g} ms after a batch at the head",
        f"  {'achieved cmd/s, each run':40} {_rates(baseline['achieved_rates']):>24}"
        f" {_rates(tally['achieved_rates']):>24}",
        f"  {'queue length max, mean':40} {_queue(baseline):>24} {_queue(tally):>24}",
    ]
    for name in SHOWING_LOGGED_TIME:
        ratio = baseline[name]["p99_ms"] / tally[name]["p99_ms"]
        lines.append(
            f"  {name:40} {_p(baseline[name]):>24} {_p(tally[name]):>24} {ratio:>6.2f}x"
            f"  (max {baseline[name]['max_ms']:.0f} / {tally[name]['max_ms']:.0f} ms,"
            f" worst run's p99 {max(baseline[name]['p99_ms_each_run']):.0f}"
            f" / {max(tally[name]['p99_ms_each_run']):.0f} ms,"
            f" missing {baseline[name]['missing']} / {tally[name]['missing']})"
        )
    return lines


def _rates(rates: list[float]) -> str:
    return " ".join(f"{rate:.0f}" for rate in rates)


def _queue(side: dict[str, Any]) -> str:
    return f"{side['queue_length']['max']}, {side['queue_length']['mean']}"


def _p(summary: dict[str, float]) -> str:
    return f"p50 {summary['p50_ms']:.2f} p99 {summary['p99_ms']:.2f} ms"


SECTIONS = ("reads", "writes", "contention", "commands", "lag", "rebuild")


def stop_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the servers and workers this run started stop too."""
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small firm, short runs")
    parser.add_argument(
        "--scale",
        choices=list(firm.SCALES),
        default=None,
        help="the firm: full (2,000,000 entries), small (100,000; the default with --quick)",
    )
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument(
        "--rebuild-jobs",
        type=int,
        default=2,
        help="projections rebuilt at once (in the firm's build and the rebuild section)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TALLY_BENCH_DATABASE_URL"),
        help="default: database tally_bench on 127.0.0.1:5432 for the full firm, "
        "tally_bench_<scale> for the others (building one firm never drops another)",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("TALLY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
    )
    parser.add_argument("--seconds", type=float, default=None, help="length of one lag run")
    parser.add_argument("--rate", type=float, default=200.0, help="lag command rate")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="unmeasured seconds of load before the lag run"
    )
    parser.add_argument("--pairs", type=int, default=None, help="lag runs of each side, alternated")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    unknown = chosen - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)} (known: {', '.join(SECTIONS)})")
    scale = firm.SCALES[args.scale or ("small" if args.quick else "full")]
    if chosen & {"reads", "writes", "contention"}:
        stack.ensure_wrk()
    home = tempfile.mkdtemp(prefix="tally-bench-")
    settings = Settings.from_env(
        {
            "TALLY_DATABASE_URL": args.database_url or bench_database_url(scale),
            "TALLY_BROKER_URL": args.redis_url,
            "TALLY_HOME_DIR": home,
            "TALLY_MAX_FUTURE_DAYS": str(world.BENCH_MAX_FUTURE_DAYS),
        }
    )
    redis.Redis.from_url(args.redis_url).flushdb()
    report: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "quick": args.quick,
    }
    started = time.perf_counter()
    the_firm = firm.open_firm(settings, scale, args.rebuild_jobs)
    report["firm"] = the_firm.summary | {"built_now": the_firm.built_now}
    _note(report, "firm", started)
    timing = through_http.QUICK if args.quick else through_http.FULL
    if chosen & {"reads", "writes", "contention"}:
        bodies = through_http.Bodies(the_firm, seed=int(time.time()))
        with through_http.Stack(the_firm, Path(home), timing) as servers:
            if "reads" in chosen:
                _section(report, "reads", lambda: through_http.bench_reads(servers))
            if "writes" in chosen:
                _section(report, "writes", lambda: through_http.bench_writes(servers, bodies))
            if "contention" in chosen:
                ceiling = report.get("writes", {}).get("ceiling")
                _section(
                    report,
                    "contention",
                    lambda: through_http.bench_contention(servers, bodies, ceiling),
                )
            servers.settle()
    w = world.World(settings, the_firm.databases, [p for p, _ in the_firm.team], the_firm.team)
    if "commands" in chosen:
        repeat = 200 if args.quick else 1_000
        _section(report, "commands", lambda: bench_commands(w, repeat, home))
    if "lag" in chosen:
        seconds = args.seconds or (10 if args.quick else 60)
        pairs = args.pairs or (1 if args.quick else 3)
        _section(report, "lag", lambda: bench_lag(w, seconds, args.rate, home, args.warmup, pairs))
    if "rebuild" in chosen:
        if the_firm.built_now:
            report["rebuild"] = the_firm.summary["rebuild"] | {"when": "the firm's build"}
        else:
            _section(
                report,
                "rebuild",
                lambda: (
                    firm.rebuild_all(the_firm.databases, args.rebuild_jobs) | {"when": "this run"}
                ),
            )
    the_firm.databases.dispose()
    print_table(report)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {args.json}")
    return 0


def bench_database_url(scale: firm.Scale) -> str:
    name = "tally_bench" if scale.name == "full" else f"tally_bench_{scale.name}"
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _section(report: dict[str, Any], name: str, run: Callable[[], dict[str, Any]]) -> None:
    print(f"{name} ...", flush=True)
    started = time.perf_counter()
    report[name] = run()
    _note(report, name, started)


def _note(report: dict[str, Any], name: str, started: float) -> None:
    """How long a part of the run took, and how busy the machine was at its end."""
    report.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
    report.setdefault("load_average_after", {})[name] = [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy it was when the run started."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    sys.exit(main())

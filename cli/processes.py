"""How each of Tally's processes starts: its command line and its environment, in one place.

`tally serve`, `worker`, `beat` and `flower` exec these; `tally dev` supervises the api, a
worker and beat; the tests' stack and the bench start them too, so all of them run the same
settings (the bench's ceilings and baselines run under `tally serve`'s gunicorn settings).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gunicorn

from domain.settings import Settings
from readmodels.registry import PROJECTIONS

TALLY_APP = "api:create_app()"
METRICS_FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Launch:
    """A process to start: its command line, and the variables it needs that the environment
    it inherits may lack (the inherited value wins)."""

    argv: list[str]
    defaults: dict[str, str] = field(default_factory=dict)

    def environment(self, inherited: Mapping[str, str]) -> dict[str, str]:
        return self.defaults | dict(inherited)


def usable_cores() -> int:
    """The cores this process may run on (its affinity, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ApiOptions:
    """`tally serve`'s options, and their defaults."""

    bind: str = "127.0.0.1"
    port: int = 8000
    # One process per core, 4 threads each: on 2 cores shared with PostgreSQL and the worker,
    # 4 processes served fewer requests than 2 (docs/benchmarks.md, "gunicorn's workers").
    workers: int = usable_cores()
    threads: int = 4
    # Seconds gunicorn gives a worker to finish its requests when stopping (gunicorn's own
    # default when None).
    graceful_timeout: float | None = None


def metrics_folder(settings: Settings, environ: Mapping[str, str]) -> Path:
    """The folder gunicorn's and Celery's child processes share their Prometheus metrics in."""
    return Path(environ.get(METRICS_FOLDER_VARIABLE) or settings.home / "metrics")


def prepare_metrics_folder(folder: Path, clean: bool) -> None:
    """Create the metrics folder; `clean` drops the files of processes gone (the API's
    counters start again with its server)."""
    folder.mkdir(parents=True, exist_ok=True)
    if clean:
        for stale in folder.glob("*.db"):
            stale.unlink()


def _metrics_defaults(settings: Settings) -> dict[str, str]:
    return {METRICS_FOLDER_VARIABLE: str(settings.home / "metrics")}


def api(settings: Settings, options: ApiOptions = ApiOptions(), app: str = TALLY_APP) -> Launch:
    """The API under gunicorn: threaded workers, so that queries waiting for min_position (at
    most TALLY_MIN_POSITION_WAITERS a process) leave others free; gunicorn's own errors
    answered as problem+json. `app` replaces Tally's app under the same settings."""
    binds = ["--bind", f"{options.bind}:{options.port}"]
    if settings.metrics_port:
        binds += ["--bind", f"{options.bind}:{settings.metrics_port}"]
    # gunicorn 25.1 added a control socket (in the home folder) that nothing here uses.
    no_control = ["--no-control-socket"] if gunicorn.version_info >= (25, 1) else []
    graceful = (
        ["--graceful-timeout", f"{options.graceful_timeout:g}"]
        if options.graceful_timeout is not None
        else []
    )
    argv = [
        *("-m", "gunicorn", *binds, *no_control, *graceful),
        *("--workers", str(options.workers), "--threads", str(options.threads)),
        *("--worker-class", "api.server.ProblemThreadWorker"),
        # The longest line gunicorn takes, so that the app, not gunicorn's HTML page, answers
        # an over-long query parameter (with a 422).
        *("--limit-request-line", "8190"),
        *("--access-logfile", "-", app),
    ]
    return Launch([sys.executable, *argv], _metrics_defaults(settings))


def worker(settings: Settings, options: Sequence[str] = (), task_events: bool = True) -> Launch:
    """A Celery worker for the projection tasks; `options` are celery worker options (a later
    option overrides an earlier one: `--loglevel DEBUG`, say)."""
    events = ["-E"] if task_events else []
    argv = _celery("worker", *events, "--loglevel", "INFO", *worker_concurrency(options))
    return Launch([*argv, *options], _metrics_defaults(settings))


def worker_concurrency(options: Sequence[str]) -> list[str]:
    """A concurrency of one per projection plus one, unless the options give their own or
    choose the solo pool (one task at a time; Celery would still prefetch a message per slot).

    Under load a projection's catch-up task keeps working (up to its 2 s time slice) while
    events arrive, so a worker with fewer slots than projections makes the others wait.
    """
    pairs = {" ".join(options[i : i + 2]) for i in range(len(options))}
    solo = pairs & {"--pool solo", "-P solo"} or "--pool=solo" in options
    if solo or any(o in ("-c", "--concurrency") or o.startswith("--concurrency=") for o in options):
        return []
    return ["--concurrency", str(len(PROJECTIONS) + 1)]


def beat(settings: Settings, options: Sequence[str] = (), schedule: Path | None = None) -> Launch:
    """Celery beat: the one-second sweep, the idempotency-key purge and the periodic verify."""
    schedule = schedule or settings.home / "celerybeat-schedule"
    return Launch([*_celery("beat", "--loglevel", "INFO", "-s", str(schedule)), *options])


def flower(options: Sequence[str] = ()) -> Launch:
    """Flower, the Celery monitor; its login comes from a config file (`--conf=`)."""
    return Launch([*_celery("flower"), *options])


def _celery(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers", *arguments]

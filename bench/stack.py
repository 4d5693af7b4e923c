"""The processes the HTTP benchmarks run: the API as `tally serve` runs it (or another app
under the same gunicorn settings), the worker as `tally worker` runs it, `wrk` as the load
generator, and the CPU each group of processes used, read from /proc."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, text

from bench import stats
from cli import processes
from cli.processes import ApiOptions
from domain.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def ensure_wrk() -> str:
    """wrk's path; installs the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print(
        "wrk (the HTTP load generator) is missing: installing the Debian package "
        "with `apt-get install -y wrk` ...",
        flush=True,
    )
    try:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(
            "python -m bench: could not install wrk; install it (`apt-get install wrk`, or "
            f"build it from https://github.com/wg/wrk) and run again ({error})"
        ) from error
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_argv(settings: Settings, app: str, port: int) -> list[str]:
    """`tally serve`'s gunicorn command line (its default options) with another app in place
    of Tally's: from the one definition, so the baselines follow its settings when they
    change."""
    return processes.api(settings, ApiOptions(port=port), app=app).argv


def children(pid: int) -> list[int]:
    """pid and every process descended from it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(parents.get(current, []))
    return found


def cpu_ticks(pids: Sequence[int]) -> dict[int, int]:
    """utime + stime of each process still alive, in clock ticks."""
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


@dataclass
class Process:
    """A server or worker started by the bench, with its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    log_size: int  # the log's size when the process started

    def pids(self) -> list[int]:
        return children(self.popen.pid)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, argv: list[str], env: dict[str, str], folder: Path) -> Process:
    log = folder / f"{name}.log"
    with log.open("ab") as out:
        size = out.tell()
        popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return Process(name, popen, log, size)


def wait_for_port(process: Process, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited: see {process.log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not listen on {port}: see {process.log}")


def wait_for_log(process: Process, line: str, timeout: float = 120) -> None:
    """Wait until the process has logged `line` (since it started)."""
    start = process.log_size
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited: see {process.log}")
        with process.log.open("rb") as log:
            log.seek(start)
            if line.encode() in log.read():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not log {line!r} in {timeout} s: see {process.log}")


@contextmanager
def server(
    name: str, argv: list[str], env: dict[str, str], folder: Path, port: int
) -> Iterator[Process]:
    process = start(name, argv, env, folder)
    try:
        wait_for_port(process, port)
        yield process
    finally:
        process.stop()


def tally_serve_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "cli", "serve", "--port", str(port)]


def tally_worker_argv() -> list[str]:
    return [sys.executable, "-m", "cli", "worker"]


class CpuMeter:
    """CPU used by groups of processes between start() and stop(), in seconds.

    PostgreSQL's share is every backend connected to the bench's database (other databases
    on a shared server are not ours); its background processes are left out.
    """

    def __init__(self, groups: dict[str, Process | None], engine: Engine, database: str) -> None:
        self.groups = groups
        self.engine = engine
        self.database = database
        self.before: dict[str, dict[int, int]] = {}

    def _backends(self) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :name"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ),
                {"name": self.database},
            )
            return [row[0] for row in rows]

    def _sample(self) -> dict[str, dict[int, int]]:
        sample = {
            name: cpu_ticks(process.pids()) if process else {}
            for name, process in self.groups.items()
        }
        sample["postgres"] = cpu_ticks(self._backends())
        return sample

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        return {
            name: sum(t - self.before[name].get(pid, 0) for pid, t in ticks.items()) / TICKS
            for name, ticks in after.items()
        }


LUA = """
local requests = {requests}
local i = 0
wrk.headers["Content-Type"] = "application/json"
{auth}
request = function()
  i = i + 1
  local r = requests[(i % #requests) + 1]
  return wrk.format(r[1], r[2], nil, r[3])
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    "BENCH {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d,"
    .. " \\"max_us\\": %d, \\"status_errors\\": %d, \\"socket_errors\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def lua_script(requests: Sequence[tuple[str, str, str | None]], token: str | None) -> str:
    """A wrk script cycling through (method, path, body) requests, with a bearer token."""
    items = ",\n".join(
        "{"
        + ", ".join([_lua_string(method), _lua_string(path), _lua_string(body) if body else "nil"])
        + "}"
        for method, path, body in requests
    )
    auth = f'wrk.headers["Authorization"] = {_lua_string("Bearer " + token)}' if token else ""
    return LUA.format(requests="{\n" + items + "\n}", auth=auth)


@dataclass
class Load:
    """One wrk run, started in the background."""

    popen: subprocess.Popen[str]
    script: Path

    def result(self) -> dict[str, Any]:
        out, err = self.popen.communicate()
        self.script.unlink()
        line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
        if self.popen.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({self.popen.returncode}): {out}{err}")
        raw = json.loads(line.removeprefix("BENCH "))
        if raw["status_errors"] or raw["socket_errors"]:
            raise RuntimeError(f"wrk saw errors, the figures would be wrong: {raw}\n{out}")
        seconds = raw["duration_us"] / 1e6
        return {
            "requests": raw["requests"],
            "requests_per_s": round(raw["requests"] / seconds, 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2),
            "max_ms": round(raw["max_us"] / 1000, 2),
        }


def one_at_a_time(
    url: str, path: str, token: str, seconds: float, least: int = 5
) -> dict[str, float]:
    """Latency of `path` asked one request at a time on one kept-alive connection, for
    `seconds` and at least `least` times (after one unmeasured request). A live join over a
    year takes seconds: wrk would count none that did not finish within its run."""
    parsed = urlsplit(url)
    connection = http.client.HTTPConnection(
        parsed.hostname or "127.0.0.1", parsed.port, timeout=600
    )
    headers = {"Authorization": f"Bearer {token}"}
    durations: list[float] = []
    deadline = time.perf_counter() + seconds
    try:
        for measured in itertools.count(-1):
            if measured >= least and time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:500]!r}")
            if measured >= 0:
                durations.append(time.perf_counter() - started)
    finally:
        connection.close()
    return stats.summary_ms(durations)


def wrk(
    url: str,
    requests: Sequence[tuple[str, str, str | None]],
    token: str | None,
    connections: int,
    seconds: float,
) -> Load:
    """Start wrk (one thread: it needs little of the two cores) for `seconds`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(requests, token))
    argv = [
        ensure_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        script.name,
        url,
    ]
    popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Load(popen, Path(script.name))

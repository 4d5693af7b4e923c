"""The gunicorn worker `tally serve` runs: threaded, and answering gunicorn's own errors
(a request line or headers too large, a malformed request) as problem+json, not HTML."""

from __future__ import annotations

import json
import socket

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from api.errors import PROBLEM_TYPES, TYPE_SLUGS


def write_problem(sock: socket.socket, status: int, reason: str, message: str) -> None:
    body = json.dumps(
        {
            "type": PROBLEM_TYPES + TYPE_SLUGS.get(status, str(status)),
            "title": reason,
            "status": status,
            "detail": message or reason,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


class ProblemThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn's ThreadWorker. gunicorn renders its errors with `util.write_error`, which it
    offers no hook for: this worker process replaces that function before serving."""

    def init_process(self) -> None:
        util.write_error = write_problem
        super().init_process()

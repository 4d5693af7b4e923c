"""A worker's own /metrics (batch timings), behind the metrics token when one is set."""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., Any]


def bearer_matches(authorization: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every 15 s would fill the worker's log."""


def guarded(app: Callable[..., Iterable[bytes]], token: str | None) -> Callable[..., Any]:
    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if token is None or bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            return app(environ, start_response)
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Unauthorized",
                "status": 401,
                "detail": "/metrics needs 'Authorization: Bearer <TALLY_METRICS_TOKEN>'.",
            }
        ).encode()
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "application/problem+json"),
                ("Content-Length", str(len(body))),
                ("WWW-Authenticate", 'Bearer realm="tally-metrics"'),
            ],
        )
        return [body]

    return serve


def serve_metrics(port: int, registry: CollectorRegistry, token: str | None) -> WSGIServer:
    """Serve the registry on port, in a daemon thread; with a token, only to its bearer."""
    server = make_server(
        "", port, guarded(make_wsgi_app(registry), token), _ThreadingServer, _QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="tally-metrics", daemon=True).start()
    return server

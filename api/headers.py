"""Security headers on every response the app makes."""

from __future__ import annotations

from flask import Flask, Response, request

EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# JSON and Prometheus text render nothing; if a browser ever shows one, it may load nothing.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
# /docs is Swagger UI: its own scripts, stylesheet and images from this server (no inline
# script), inline styles (it sets style attributes), and calls to this API ("Try it out").
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
# Every other response may carry a token or personal data: no cache keeps a copy.
CACHEABLE_PATHS = ("/docs", "/openapi.json")


# What every response gets unless its view set it: a data response's, a /docs one's.
DATA_HEADERS = EVERYWHERE | {"Content-Security-Policy": DATA_POLICY}
DOCS_HEADERS = EVERYWHERE | {"Content-Security-Policy": DOCS_POLICY}


def secure(response: Response) -> Response:
    # The names present are read once: each `Headers.setdefault` scans the list twice.
    present = {name.lower() for name, _ in response.headers}
    docs = request.path in CACHEABLE_PATHS
    for name, value in (DOCS_HEADERS if docs else DATA_HEADERS).items():
        if name.lower() not in present:
            response.headers.add(name, value)
    if not docs:
        response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    app.after_request(secure)

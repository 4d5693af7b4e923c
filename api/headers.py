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


def secure(response: Response) -> Response:
    for name, value in EVERYWHERE.items():
        response.headers.setdefault(name, value)
    docs = request.path in CACHEABLE_PATHS
    response.headers.setdefault("Content-Security-Policy", DOCS_POLICY if docs else DATA_POLICY)
    if not docs:
        response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    app.after_request(secure)

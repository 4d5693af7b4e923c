"""/docs: Swagger UI from the assets the swagger-ui-bundle package ships (no CDN: it works
offline), reading /openapi.json; "Try it out" calls this server with the bearer token the
Authorize button takes."""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

blp = Blueprint("docs", __name__)

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
</head><body>
<noscript>The machine-readable document is <a href="/openapi.json">/openapi.json</a>
(operations under /api/v1, e.g. /api/v1/projects).</noscript>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>"""

# No inline script (a Content-Security-Policy may forbid it); no validator (it is online).
INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: true,
  displayRequestDuration: true,
  tryItOutEnabled: false,
});"""


@blp.get("/docs")
def docs() -> Response:
    """Browse the API and try it out."""
    return Response(PAGE, mimetype="text/html")


@blp.get("/docs/init.js")
def init() -> Response:
    return Response(INIT, mimetype="text/javascript")


@blp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response("Not found.", status=404, mimetype="text/plain")
    return send_from_directory(swagger_ui_path, name, max_age=86400)

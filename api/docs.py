"""A self-contained /docs page rendered from the OpenAPI document (no CDN, works offline)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, render_template_string

blp = Blueprint("docs", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ spec.info.title }} API</title>
<style>
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.6rem 1rem}
.method{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}
.get{color:#1565c0}.post{color:#2e7d32}.patch{color:#ef6c00}.delete{color:#c62828}
code,pre{background:#f5f5f5;border-radius:4px}pre{padding:.6rem;overflow:auto;font-size:.85rem}
details summary{cursor:pointer}
</style></head><body>
<h1>{{ spec.info.title }} <small>{{ spec.info.version }}</small></h1>
<p>The machine-readable document is <a href="/openapi.json">/openapi.json</a>.
Send <code>Authorization: Bearer &lt;token&gt;</code> with every <code>/api/v1</code> request.</p>
{% for tag, operations in groups %}
<h2>{{ tag }}</h2>
{% for op in operations %}
<div class="op"><span class="method {{ op.method }}">{{ op.method }}</span>
<code>{{ op.path }}</code> &mdash; {{ op.summary }}
{% if op.request %}
<details><summary>Request body</summary><pre>{{ op.request }}</pre></details>
{% endif %}
<details><summary>Responses: {{ op.statuses }}</summary><pre>{{ op.responses }}</pre></details>
</div>
{% endfor %}{% endfor %}
<h2>Schemas</h2>
{% for name, schema in schemas %}<details><summary>{{ name }}</summary>
<pre>{{ schema }}</pre></details>{% endfor %}
</body></html>"""


def _operations(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tag = (operation.get("tags") or ["other"])[0]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            groups.setdefault(tag, []).append(
                {
                    "method": method,
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "request": json.dumps(body["schema"], indent=2) if body else None,
                    "statuses": ", ".join(operation.get("responses", {})),
                    "responses": json.dumps(operation.get("responses", {}), indent=2),
                }
            )
    return sorted(groups.items())


@blp.get("/docs")
def docs() -> str:
    """Browse the API."""
    spec = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    schemas = sorted(
        (name, json.dumps(schema, indent=2))
        for name, schema in spec.get("components", {}).get("schemas", {}).items()
    )
    return render_template_string(PAGE, spec=spec, groups=_operations(spec), schemas=schemas)

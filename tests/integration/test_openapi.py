"""The OpenAPI document lists every operation with its schemas, errors and headers (the
schemathesis run that holds the server to it is tests/conformance/test_schemathesis.py)."""

from __future__ import annotations

CONTRACT = {
    ("post", "/api/v1/clients"),
    ("patch", "/api/v1/clients/{client_id}"),
    ("post", "/api/v1/people"),
    ("patch", "/api/v1/people/{person_id}"),
    ("post", "/api/v1/projects"),
    ("patch", "/api/v1/projects/{project_id}"),
    ("post", "/api/v1/projects/{project_id}/close"),
    ("post", "/api/v1/projects/{project_id}/reopen"),
    ("post", "/api/v1/projects/{project_id}/members"),
    ("delete", "/api/v1/projects/{project_id}/members/{person_id}"),
    ("post", "/api/v1/projects/{project_id}/tasks"),
    ("post", "/api/v1/tasks/{task_id}/complete"),
    ("post", "/api/v1/tasks/{task_id}/reopen"),
    ("post", "/api/v1/time-entries"),
    ("patch", "/api/v1/time-entries/{entry_id}"),
    ("delete", "/api/v1/time-entries/{entry_id}"),
    ("post", "/api/v1/time-entries/{entry_id}/approve"),
    ("post", "/api/v1/time-entries/{entry_id}/reject"),
    ("get", "/api/v1/projects/{project_id}/dashboard"),
    ("get", "/api/v1/projects"),
    ("get", "/api/v1/time-entries"),
    ("get", "/api/v1/reports/utilization"),
    ("get", "/api/v1/reports/revenue"),
    ("get", "/api/v1/reports/budget-burn"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/api/v1/ops/projections"),
    ("post", "/api/v1/ops/projections/{name}/rebuild"),
    ("get", "/api/v1/ops/projections/{name}/parked"),
    ("post", "/api/v1/ops/projections/{name}/parked/retry"),
    ("post", "/api/v1/ops/projections/{name}/parked/skip"),
}


def test_the_document_lists_every_endpoint_with_its_schemas(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").get_json()
    found = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert found >= CONTRACT, CONTRACT - found
    for method, path in CONTRACT:
        operation = spec["paths"][path][method]
        assert any(
            code.startswith("2") and "content" in body
            for code, body in operation["responses"].items()
        ), (method, path)
        if method in ("post", "patch") and not path.endswith(
            ("/close", "/reopen", "/complete", "/approve", "/rebuild")
        ):
            assert "requestBody" in operation, (method, path)

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
    ("get", "/api/v1/me"),
    ("get", "/api/v1/clients"),
    ("get", "/api/v1/clients/{client_id}"),
    ("get", "/api/v1/people"),
    ("get", "/api/v1/people/{person_id}"),
    ("get", "/api/v1/projects/{project_id}/tasks"),
    ("get", "/api/v1/time-entries/{entry_id}"),
    ("get", "/api/v1/time-entries/{entry_id}/history"),
    ("get", "/api/v1/projects/{project_id}/history"),
    ("get", "/api/v1/people/{person_id}/history"),
    ("get", "/api/v1/clients/{client_id}/history"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/api/v1/ops/projections"),
    ("post", "/api/v1/ops/projections/{name}/rebuild"),
    ("get", "/api/v1/ops/projections/{name}/parked"),
    ("post", "/api/v1/ops/projections/{name}/parked/retry"),
    ("post", "/api/v1/ops/projections/{name}/parked/skip"),
    ("get", "/api/v1/me/tokens"),
    ("get", "/api/v1/people/{person_id}/tokens"),
    ("post", "/api/v1/people/{person_id}/tokens"),
}
# Answered 204 with no body.
REVOCATIONS = {
    ("delete", "/api/v1/me/tokens/{token_id}"),
    ("delete", "/api/v1/people/{person_id}/tokens/{token_id}"),
}


def test_the_document_lists_every_endpoint_with_its_schemas(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").get_json()
    found = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert found >= CONTRACT | REVOCATIONS, (CONTRACT | REVOCATIONS) - found
    for method, path in REVOCATIONS:
        assert "204" in spec["paths"][path][method]["responses"], path
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


def test_errors_are_problem_json_and_headers_are_documented(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").get_json()
    assert "PaginationMetadata" not in spec["components"]["schemas"]
    assert "Error" not in spec["components"]["schemas"]
    for name, response in spec["components"]["responses"].items():
        assert list(response["content"]) == ["application/problem+json"], name
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            statuses = set(operation["responses"])
            if path.startswith("/api/v1"):
                assert {"401", "503"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= statuses, (method, path)
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "422" in statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
    patch = spec["paths"]["/api/v1/time-entries/{entry_id}"]["patch"]
    assert {p["name"] for p in patch["parameters"]} == {"If-Match"}
    assert "412" in patch["responses"] and "ETag" in patch["responses"]["200"]["headers"]
    log = spec["paths"]["/api/v1/time-entries"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in log["parameters"]}
    listing = spec["paths"]["/api/v1/time-entries"]["get"]
    assert "X-Projection-Position" in listing["responses"]["200"]["headers"]
    assert {p["name"] for p in listing["parameters"]} >= {"from", "to", "limit", "cursor"}
    unavailable = spec["components"]["responses"]["SERVICE_UNAVAILABLE"]
    assert "Retry-After" in unavailable["headers"]
    name = spec["components"]["schemas"]["RegisterClient"]["properties"]["name"]
    assert name["minLength"] == 1 and name["maxLength"] == 200 and "pattern" in name
    notes = spec["components"]["schemas"]["LogTime"]["properties"]["notes"]
    assert notes["maxLength"] == 2000
    assert spec["components"]["schemas"]["AmendTimeEntry"]["minProperties"] == 1
    assert spec["components"]["schemas"]["LogTime"]["example"]["hours"] == 7.5

"""Helpers that drive the HTTP API the way a client would."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


def post(
    client: FlaskClient,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    expect: int | tuple[int, ...] = 201,
) -> dict[str, Any]:
    response = client.post(f"/api/v1{path}", json=body, headers=headers)
    wanted = expect if isinstance(expect, tuple) else (expect,)
    assert response.status_code in wanted, (response.status_code, response.get_json())
    return response.get_json()


def create_client(client: FlaskClient, headers: dict[str, str], name: str = "Acme") -> str:
    return post(client, "/clients", {"name": name}, headers)["id"]


def create_person(
    client: FlaskClient,
    headers: dict[str, str],
    email: str,
    role: str = "manager",
    first: str = "Ann",
    last: str = "Lee",
) -> dict[str, Any]:
    return post(
        client,
        "/people",
        {"first_name": first, "last_name": last, "email": email, "role": role},
        headers,
    )


def create_project(
    client: FlaskClient,
    headers: dict[str, str],
    client_id: str,
    manager_id: str,
    name: str = "Website",
    budget: str = "10000.00",
    expect: int | tuple[int, ...] = 201,
) -> dict[str, Any]:
    return post(
        client,
        "/projects",
        {
            "name": name,
            "client_id": client_id,
            "manager_id": manager_id,
            "start_date": "2026-11-02",
            "budget": budget,
        },
        headers,
        expect,
    )

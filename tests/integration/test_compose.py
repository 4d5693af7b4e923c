"""docker-compose.yml has the shape the README describes, and the least-privilege properties of
docs/decisions.md (no Docker engine runs here: the file is parsed and checked)."""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"postgres", "redis", "migrate", "api", "worker", "beat", "flower"}
TALLY_SERVICES = {"migrate", "api", "worker", "beat", "flower"}
# Which service may read which secret; nothing else gets any.
SECRETS = {
    "postgres": {"postgres_password", "postgres_migrate_password", "postgres_app_password"},
    "redis": {"redis_users_acl", "redis_password"},
    "migrate": {"postgres_migrate_password"},
    "api": {"postgres_app_password", "redis_password", "tally_admin_token", "tally_metrics_token"},
    "worker": {"postgres_app_password", "redis_password", "tally_metrics_token"},
    "beat": {"redis_password"},
    "flower": {"redis_password", "flower_config"},
    "prometheus": {"tally_metrics_token"},
    "grafana": {"grafana_admin_password"},
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_is_there_with_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {name for name, service in services.items() if "profiles" not in service} == SERVICES
    for name in SERVICES - {"migrate"}:
        assert "healthcheck" in services[name], name
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_redis_keeps_its_data_never_evicts_and_has_an_acl_user(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--aclfile /run/secrets/redis_users_acl" in command
    assert "--requirepass" not in command
    assert "REDISCLI_AUTH" not in str(redis.get("environment", {}))
    for name in TALLY_SERVICES - {"migrate"}:
        url = compose["services"][name]["environment"]["TALLY_BROKER_URL"]
        assert url == "redis://tally@redis:6379/0", name
    template = (ROOT / "deploy" / "redis" / "users.acl.template").read_text()
    assert "user default off" in template
    assert "-@admin" in template and "-@dangerous" in template


def test_secrets_are_files_given_only_to_the_services_that_use_them(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(compose["secrets"]) == set().union(*SECRETS.values())
    for definition in compose["secrets"].values():
        assert definition["file"].startswith("./secrets/")
    for name, service in services.items():
        assert set(service.get("secrets", [])) == SECRETS[name], name
        environment = service.get("environment", {})
        for key, value in environment.items():
            assert "${" not in str(value), (name, key)
            if re.search("PASSWORD|TOKEN", key) and key != "POSTGRES_USER":
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), key
        assert "${" not in " ".join(map(str, service.get("command", []))), name
    assert "TALLY_ADMIN_TOKEN_FILE" in services["api"]["environment"]
    for name in TALLY_SERVICES - {"api"}:
        assert not any("ADMIN" in key for key in services[name]["environment"]), name
    assert "secrets/" in _lines(".gitignore") and "secrets" in _lines(".dockerignore")


def _lines(name: str) -> list[str]:
    return (ROOT / name).read_text().splitlines()


def test_the_app_connects_as_the_runtime_role_and_migrates_as_the_migration_role(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    migrate = services["migrate"]["environment"]
    assert migrate["TALLY_DATABASE_URL"].startswith("postgresql://tally_migrate@")
    assert migrate["TALLY_RUNTIME_ROLE"] == "tally_app"
    for name in ("api", "worker"):
        url = services[name]["environment"]["TALLY_DATABASE_URL"]
        assert url.startswith("postgresql://tally_app@"), name
    for name in ("beat", "flower"):
        assert "TALLY_DATABASE_URL" not in services[name]["environment"], name
    volumes = services["postgres"]["volumes"]
    assert "./deploy/postgres/init-roles.sh:/docker-entrypoint-initdb.d/10-roles.sh:ro" in volumes
    assert "./deploy/postgres/roles.sql:/etc/tally/roles.sql:ro" in volumes
    assert services["postgres"]["environment"]["POSTGRES_USER"] != "tally_app"


def test_every_container_is_hardened(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service["cap_drop"] == ["ALL"], name
        assert "cap_add" not in service, name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["read_only"] is True, name
        assert str(service["user"]) not in ("root", "0", "0:0"), name
        assert "privileged" not in service, name
    for name in TALLY_SERVICES:
        assert compose["services"][name]["user"] == "10001:10001", name


def test_images_are_pinned_and_the_code_belongs_to_root(compose: dict[str, Any]) -> None:
    # an exact release: PostgreSQL numbers its releases major.minor, Redis and Python x.y.z
    exact = re.compile(r"^[a-z0-9/._-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$")
    for name in ("postgres", "redis"):
        assert exact.match(compose["services"][name]["image"]), name
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert base and exact.match(base.group(1)), base
    assert "chown" not in dockerfile
    assert "chmod -R go-w /app" in dockerfile
    instructions = [line.split()[0] for line in dockerfile.splitlines() if line.strip()]
    assert instructions.index("USER") > max(
        i for i, word in enumerate(instructions) if word in ("COPY", "RUN")
    )


def test_the_worker_exposes_no_unauthenticated_metrics_and_flower_needs_a_login(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    worker = services["worker"]["environment"]
    assert "TALLY_WORKER_METRICS_PORT" not in worker or "TALLY_METRICS_TOKEN_FILE" in worker
    assert "expose" not in services["worker"] and "ports" not in services["worker"]
    assert "--conf=/run/secrets/flower_config" in services["flower"]["command"]
    assert "TALLY_METRICS_TOKEN_FILE" in services["api"]["environment"]
    assert services["api"]["command"][:4] == ["tally", "serve", "--bind", "0.0.0.0"]


def test_make_secrets_writes_every_secret_once(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    script = ROOT / "deploy" / "make-secrets.sh"
    first = subprocess.run(["sh", str(script), str(folder)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    files = {Path(d["file"]).name for d in compose["secrets"].values()}
    assert {path.name for path in folder.iterdir()} == files
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    contents = {path.name: path.read_text() for path in folder.iterdir()}
    password = contents["redis_password"].strip()
    digest = hashlib.sha256(password.encode()).hexdigest()
    assert (
        f"#{digest}" in contents["redis_users.acl"] and password not in contents["redis_users.acl"]
    )
    assert contents["flowerconfig.py"].startswith('basic_auth = ["admin:')
    assert contents["tally_admin_token"].startswith("tly_")
    again = subprocess.run(["sh", str(script), str(folder)], capture_output=True, text=True)
    assert again.returncode == 0
    assert {path.name: path.read_text() for path in folder.iterdir()} == contents


def test_databases_publish_no_port_and_public_services_bind_loopback(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert "ports" not in services["postgres"]
    assert "ports" not in services["redis"]
    for name in ("api", "flower"):
        for mapping in services[name]["ports"]:
            assert str(mapping).startswith("127.0.0.1:"), (name, mapping)


def test_migrate_runs_once_before_the_app(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["tally", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"


def test_docker_compose_config_accepts_the_file_where_a_client_exists(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0
    ):
        pytest.skip("no docker compose client on this machine")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin"}
    result = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr

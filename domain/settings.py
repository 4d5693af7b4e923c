"""Settings, read once from the environment at start-up and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from domain.policy import Policy


def secret(env: Mapping[str, str], name: str) -> str | None:
    """A secret from the variable, or from the file that NAME_FILE names (Docker secrets)."""
    path = env.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip() or None
    return env.get(name) or None


def with_password(url: str, password: str | None) -> str:
    """The URL with this password (for a user named in the URL), when one is given."""
    if not password:
        return url
    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Settings:
    database_url: str
    read_database_url: str
    broker_url: str
    admin_token: str | None = None
    sync_timeout: float = 2.0
    min_position_timeout: float = 5.0
    projection_max_attempts: int = 5
    projection_retry_base: float = 0.5
    projection_linger: float = 0.004
    verify_interval: float = 3600.0
    verify_max_rows: int = 200_000
    min_position_waiters: int = 2
    token_cache_seconds: float = 5.0
    metrics_token: str | None = None
    metrics_port: int | None = None
    runtime_role: str | None = None
    max_future_days: int = 0
    allow_self_approval: bool = False
    home: Path = field(default_factory=lambda: Path.cwd() / ".tally")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        cwd = Path(env.get("TALLY_HOME_DIR", os.getcwd()))
        home = cwd / ".tally"
        database_password = secret(env, "TALLY_DATABASE_PASSWORD")
        database_url = with_password(
            secret(env, "TALLY_DATABASE_URL") or f"sqlite:///{cwd / 'tally.db'}", database_password
        )
        read_database_url = secret(env, "TALLY_READ_DATABASE_URL")
        metrics_port = env.get("TALLY_METRICS_PORT")
        return cls(
            database_url=database_url,
            read_database_url=with_password(read_database_url, database_password)
            if read_database_url
            else database_url,
            broker_url=with_password(
                secret(env, "TALLY_BROKER_URL") or "filesystem://",
                secret(env, "TALLY_BROKER_PASSWORD"),
            ),
            admin_token=secret(env, "TALLY_ADMIN_TOKEN"),
            min_position_waiters=int(env.get("TALLY_MIN_POSITION_WAITERS", "2")),
            token_cache_seconds=float(env.get("TALLY_TOKEN_CACHE_SECONDS", "5")),
            metrics_token=secret(env, "TALLY_METRICS_TOKEN"),
            metrics_port=int(metrics_port) if metrics_port else None,
            runtime_role=env.get("TALLY_RUNTIME_ROLE") or None,
            sync_timeout=float(env.get("TALLY_SYNC_TIMEOUT", "2")),
            min_position_timeout=float(env.get("TALLY_MIN_POSITION_TIMEOUT", "5")),
            projection_max_attempts=int(env.get("TALLY_PROJECTION_MAX_ATTEMPTS", "5")),
            projection_retry_base=float(env.get("TALLY_PROJECTION_RETRY_BASE", "0.5")),
            projection_linger=float(env.get("TALLY_PROJECTION_LINGER_MS", "4")) / 1000,
            verify_interval=float(env.get("TALLY_VERIFY_INTERVAL", "3600")),
            verify_max_rows=int(env.get("TALLY_VERIFY_MAX_ROWS", "200000")),
            max_future_days=int(env.get("TALLY_MAX_FUTURE_DAYS", "0")),
            allow_self_approval=_flag(env.get("TALLY_ALLOW_SELF_APPROVAL", "false")),
            home=home,
        )

    def __post_init__(self) -> None:
        if self.max_future_days < 0:
            raise ValueError("TALLY_MAX_FUTURE_DAYS is a number of days, 0 or more")
        if not self.token_cache_seconds >= 0:
            raise ValueError("TALLY_TOKEN_CACHE_SECONDS is a number of seconds, 0 or more")

    @property
    def policy(self) -> Policy:
        return Policy(
            max_future_days=self.max_future_days, allow_self_approval=self.allow_self_approval
        )

    @property
    def uses_filesystem_broker(self) -> bool:
        return self.broker_url.startswith(("filesystem://", "tallyfs://"))

    @property
    def broker_folder(self) -> Path:
        return self.home / "broker"

    def ensure_home(self) -> Path:
        """Create `.tally/` readable by its owner only (it holds the dev token, the broker's
        messages and the metrics files), and tighten it if an older version left it open."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.home.chmod(0o700)
        return self.home

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _flag(value: str) -> bool:
    normalized = value.strip().lower()
    if normalized not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"expected true or false, not {value!r}")
    return normalized in ("true", "1", "yes")

"""Settings, read once from the environment at start-up and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from domain.policy import Policy


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
    max_future_days: int = 0
    allow_self_approval: bool = False
    home: Path = field(default_factory=lambda: Path.cwd() / ".tally")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        cwd = Path(env.get("TALLY_HOME_DIR", os.getcwd()))
        home = cwd / ".tally"
        database_url = env.get("TALLY_DATABASE_URL") or f"sqlite:///{cwd / 'tally.db'}"
        return cls(
            database_url=database_url,
            read_database_url=env.get("TALLY_READ_DATABASE_URL") or database_url,
            broker_url=env.get("TALLY_BROKER_URL") or "filesystem://",
            admin_token=env.get("TALLY_ADMIN_TOKEN") or None,
            sync_timeout=float(env.get("TALLY_SYNC_TIMEOUT", "2")),
            min_position_timeout=float(env.get("TALLY_MIN_POSITION_TIMEOUT", "5")),
            projection_max_attempts=int(env.get("TALLY_PROJECTION_MAX_ATTEMPTS", "5")),
            projection_retry_base=float(env.get("TALLY_PROJECTION_RETRY_BASE", "0.5")),
            projection_linger=float(env.get("TALLY_PROJECTION_LINGER_MS", "4")) / 1000,
            max_future_days=int(env.get("TALLY_MAX_FUTURE_DAYS", "0")),
            allow_self_approval=_flag(env.get("TALLY_ALLOW_SELF_APPROVAL", "false")),
            home=home,
        )

    def __post_init__(self) -> None:
        if self.max_future_days < 0:
            raise ValueError("TALLY_MAX_FUTURE_DAYS is a number of days, 0 or more")

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

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _flag(value: str) -> bool:
    normalized = value.strip().lower()
    if normalized not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"expected true or false, not {value!r}")
    return normalized in ("true", "1", "yes")

"""Secrets from files (Docker secrets), passwords put into URLs, and `tally serve`'s bind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url

from cli.main import build_parser
from domain.settings import Settings


def test_secrets_come_from_files_and_passwords_go_into_the_urls(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("p@ss/w:rd\n")
    (tmp_path / "broker").write_text("broker secret\n")
    (tmp_path / "admin").write_text("tly_admin\n")
    (tmp_path / "metrics").write_text("scrape\n")
    settings = Settings.from_env(
        {
            "TALLY_DATABASE_URL": "postgresql://tally_app@postgres:5432/tally",
            "TALLY_DATABASE_PASSWORD_FILE": str(tmp_path / "db"),
            "TALLY_BROKER_URL": "redis://tally@redis:6379/0",
            "TALLY_BROKER_PASSWORD_FILE": str(tmp_path / "broker"),
            "TALLY_ADMIN_TOKEN_FILE": str(tmp_path / "admin"),
            "TALLY_METRICS_TOKEN_FILE": str(tmp_path / "metrics"),
            "TALLY_METRICS_PORT": "9100",
        }
    )
    database = make_url(settings.database_url)
    assert (database.username, database.password, database.host) == (
        "tally_app",
        "p@ss/w:rd",
        "postgres",
    )
    assert settings.read_database_url == settings.database_url
    assert settings.broker_url == "redis://tally:broker%20secret@redis:6379/0"
    assert settings.admin_token == "tly_admin"
    assert settings.metrics_token == "scrape"
    assert settings.metrics_port == 9100


def test_without_secrets_nothing_changes(tmp_path: Path) -> None:
    settings = Settings.from_env({"TALLY_HOME_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'tally.db'}"
    assert settings.broker_url == "filesystem://"
    assert settings.admin_token is None and settings.metrics_token is None
    assert settings.min_position_waiters == 2


def test_serve_binds_loopback_unless_told_otherwise() -> None:
    assert build_parser().parse_args(["serve"]).bind == "127.0.0.1"
    assert build_parser().parse_args(["serve", "--bind", "0.0.0.0"]).bind == "0.0.0.0"


def test_the_token_cache_lasts_five_seconds_unless_told_otherwise() -> None:
    assert Settings.from_env({}).token_cache_seconds == 5
    assert Settings.from_env({"TALLY_TOKEN_CACHE_SECONDS": "0"}).token_cache_seconds == 0
    assert Settings.from_env({"TALLY_TOKEN_CACHE_SECONDS": "0.5"}).token_cache_seconds == 0.5
    for refused in ("-1", "nan"):
        with pytest.raises(ValueError, match="TALLY_TOKEN_CACHE_SECONDS"):
            Settings.from_env({"TALLY_TOKEN_CACHE_SECONDS": refused})

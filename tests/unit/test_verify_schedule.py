"""Beat's periodic verify follows TALLY_VERIFY_INTERVAL; 0 turns it off."""

from __future__ import annotations

from pathlib import Path

from domain.settings import Settings
from workers.celery_app import make_celery


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"TALLY_BROKER_URL": "redis://127.0.0.1:6379/10", "TALLY_HOME_DIR": str(tmp_path)} | env
    )


def test_verify_runs_hourly_by_default_and_every_interval_given(tmp_path: Path) -> None:
    default = make_celery(settings(tmp_path)).conf.beat_schedule["verify read models"]
    assert (default["task"], default["schedule"]) == ("tally.verify", 3600.0)
    every_minute = make_celery(settings(tmp_path, TALLY_VERIFY_INTERVAL="60"))
    assert every_minute.conf.beat_schedule["verify read models"]["schedule"] == 60.0
    assert settings(tmp_path).verify_max_rows == 200_000


def test_an_interval_of_zero_leaves_verify_out_of_the_schedule(tmp_path: Path) -> None:
    off = make_celery(settings(tmp_path, TALLY_VERIFY_INTERVAL="0"))
    assert "verify read models" not in off.conf.beat_schedule
    assert "sweep" in off.conf.beat_schedule

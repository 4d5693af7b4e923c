"""Alembic migrations: one history for the write database, one for the read database.

Each keeps its own version table, so both can live in one database (the default) or in two.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

HERE = Path(__file__).parent


def alembic_config(side: str, engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE / side))
    config.attributes["engine"] = engine
    config.attributes["side"] = side
    return config


def upgrade(engine: Engine, side: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(side, engine), revision)

"""What both sides' env.py share: run migrations on the engine the caller passed in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData


def run(target_metadata: MetaData, version_table: str) -> None:
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=lambda name, kind, _parent: (
                kind != "table" or name in target_metadata.tables
            ),
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()

from domain.store.tables import metadata
from migrations.env_common import run

run(metadata, "alembic_version_write")

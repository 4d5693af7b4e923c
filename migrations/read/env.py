from migrations.env_common import run
from readmodels.tables import metadata

run(metadata, "alembic_version_read")

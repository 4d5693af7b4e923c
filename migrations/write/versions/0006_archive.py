"""archived people, clients and projects

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ARCHIVABLE = ("clients", "people", "projects")


def upgrade() -> None:
    for table in ARCHIVABLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    for table in ARCHIVABLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("archived")

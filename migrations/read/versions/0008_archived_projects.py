"""project_dashboards: archived

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("project_dashboards", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("project_dashboards", schema=None) as batch_op:
        batch_op.drop_column("archived")

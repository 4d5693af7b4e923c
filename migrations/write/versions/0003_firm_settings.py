"""firm_settings: the firm's lock date

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "firm_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lock_date", sa.Date(), nullable=True),
        sa.Column("lock_date_set_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firm_settings")),
    )


def downgrade() -> None:
    op.drop_table("firm_settings")

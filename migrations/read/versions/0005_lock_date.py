"""lock_date: the firm's lock date

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 01:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lock_date",
        sa.Column("firm_id", sa.Uuid(), nullable=False),
        sa.Column("lock_date", sa.Date(), nullable=True),
        sa.Column("set_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("firm_id", name=op.f("pk_lock_date")),
    )


def downgrade() -> None:
    op.drop_table("lock_date")

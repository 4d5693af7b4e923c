"""time_entry_rows.rejection_reason (the projection's version 2 refills it)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("time_entry_rows", sa.Column("rejection_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("time_entry_rows", "rejection_reason")

"""time_entries: the cost rate captured when logged, and the cost

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Entries logged before costs were captured cost 0, as their events' upcaster says.
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cost_rate_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("cost_cents", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_column("cost_cents")
        batch_op.drop_column("cost_rate_cents")

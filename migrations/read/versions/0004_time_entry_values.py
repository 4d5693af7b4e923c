"""time_entry_rows: value and billable_amount instead of one ambiguous amount

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The projection's version goes up with this change: the sweep rebuilds the rows, so the
    # copies made here only bridge the time until the rebuild swaps in.
    with op.batch_alter_table("time_entry_rows", schema=None) as batch_op:
        batch_op.alter_column("amount_cents", new_column_name="value_cents")
        batch_op.add_column(
            sa.Column("billable_amount_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute("UPDATE time_entry_rows SET billable_amount_cents = value_cents WHERE billable")


def downgrade() -> None:
    with op.batch_alter_table("time_entry_rows", schema=None) as batch_op:
        batch_op.drop_column("billable_amount_cents")
        batch_op.alter_column("value_cents", new_column_name="amount_cents")

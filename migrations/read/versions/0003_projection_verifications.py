"""projection_verifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 01:30:00.000000
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
        "projection_verifications",
        sa.Column("projection", sa.String(length=100), nullable=False),
        sa.Column("drift_rows", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Numeric(precision=10, scale=3), nullable=False),
        sa.PrimaryKeyConstraint("projection", name=op.f("pk_projection_verifications")),
    )


def downgrade() -> None:
    op.drop_table("projection_verifications")

"""costs on dashboards and revenue; project_profitability

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 02:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # project_dashboards and client_revenue go up a version: the sweep rebuilds them.
    with op.batch_alter_table("project_dashboards", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("total_cost_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("client_revenue", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cost_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "project_profitability",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("month_start", sa.Date(), nullable=False),
        sa.Column("project_name", sa.String(length=200), nullable=False),
        sa.Column("hundredths", sa.BigInteger(), nullable=False),
        sa.Column("billed_cents", sa.BigInteger(), nullable=False),
        sa.Column("cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "month", name=op.f("pk_project_profitability")),
    )
    with op.batch_alter_table("project_profitability", schema=None) as batch_op:
        batch_op.create_index(
            "ix_project_profitability_month_start", ["month_start", "project_id"], unique=False
        )
    op.create_table(
        "project_profitability__projects",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_profitability__projects")),
    )


def downgrade() -> None:
    op.drop_table("project_profitability__projects")
    with op.batch_alter_table("project_profitability", schema=None) as batch_op:
        batch_op.drop_index("ix_project_profitability_month_start")
    op.drop_table("project_profitability")
    with op.batch_alter_table("client_revenue", schema=None) as batch_op:
        batch_op.drop_column("cost_cents")
    with op.batch_alter_table("project_dashboards", schema=None) as batch_op:
        batch_op.drop_column("total_cost_cents")

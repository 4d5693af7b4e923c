"""timesheet_weeks: the timesheets read model

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timesheet_weeks",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("person_name", sa.String(length=401), nullable=False),
        sa.Column("hundredths", sa.BigInteger(), nullable=False),
        sa.Column("draft_entries", sa.Integer(), nullable=False),
        sa.Column("submitted_entries", sa.Integer(), nullable=False),
        sa.Column("approved_entries", sa.Integer(), nullable=False),
        sa.Column("rejected_entries", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("last_action", sa.String(length=10), nullable=True),
        sa.Column("acted_by", sa.Uuid(), nullable=True),
        sa.Column("acted_by_name", sa.String(length=401), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("person_id", "week", name=op.f("pk_timesheet_weeks")),
    )
    with op.batch_alter_table("timesheet_weeks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timesheet_weeks_week_start", ["week_start", "person_id"], unique=False
        )
        batch_op.create_index(
            "ix_timesheet_weeks_status_week_start",
            ["status", "week_start", "person_id"],
            unique=False,
        )
    op.create_table(
        "timesheet_weeks__people",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=401), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_timesheet_weeks__people")),
    )
    op.create_table(
        "timesheet_weeks__actions",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("last_action", sa.String(length=10), nullable=False),
        sa.Column("acted_by", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("person_id", "week", name=op.f("pk_timesheet_weeks__actions")),
    )


def downgrade() -> None:
    op.drop_table("timesheet_weeks__actions")
    op.drop_table("timesheet_weeks__people")
    with op.batch_alter_table("timesheet_weeks", schema=None) as batch_op:
        batch_op.drop_index("ix_timesheet_weeks_status_week_start")
        batch_op.drop_index("ix_timesheet_weeks_week_start")
    op.drop_table("timesheet_weeks")

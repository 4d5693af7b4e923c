"""time_entries_reports_and_team

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:56:24.229636
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budget_burn",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("hundredths", sa.BigInteger(), nullable=False),
        sa.Column("billed_cents", sa.BigInteger(), nullable=False),
        sa.Column("budget_cents", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "week", name=op.f("pk_budget_burn")),
    )
    op.create_table(
        "budget_burn__projects",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("budget_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_budget_burn__projects")),
    )
    op.create_table(
        "client_revenue",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("month_start", sa.Date(), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("billable_hundredths", sa.BigInteger(), nullable=False),
        sa.Column("billed_cents", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "month", name=op.f("pk_client_revenue")),
    )
    with op.batch_alter_table("client_revenue", schema=None) as batch_op:
        batch_op.create_index(
            "ix_client_revenue_month_start", ["month_start", "client_id"], unique=False
        )

    op.create_table(
        "client_revenue__clients",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_revenue__clients")),
    )
    op.create_table(
        "project_dashboards__team",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("bill_rate_cents", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(
            "project_id", "person_id", name=op.f("pk_project_dashboards__team")
        ),
    )
    with op.batch_alter_table("project_dashboards__team", schema=None) as batch_op:
        batch_op.create_index("ix_project_dashboards__team_person_id", ["person_id"], unique=False)

    op.create_table(
        "time_entry_rows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("hours_hundredths", sa.Integer(), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("person_name", sa.String(length=401), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("project_name", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("task_name", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_entry_rows")),
    )
    with op.batch_alter_table("time_entry_rows", schema=None) as batch_op:
        batch_op.create_index("ix_time_entry_rows_client_id", ["client_id"], unique=False)
        batch_op.create_index("ix_time_entry_rows_date", ["date", "id"], unique=False)
        batch_op.create_index(
            "ix_time_entry_rows_person_id_date", ["person_id", "date", "id"], unique=False
        )
        batch_op.create_index(
            "ix_time_entry_rows_project_id_date", ["project_id", "date", "id"], unique=False
        )
        batch_op.create_index(
            "ix_time_entry_rows_status_date", ["status", "date", "id"], unique=False
        )

    op.create_table(
        "time_entry_rows__clients",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_time_entry_rows__clients")),
    )
    op.create_table(
        "time_entry_rows__people",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=401), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_time_entry_rows__people")),
    )
    op.create_table(
        "time_entry_rows__projects",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_time_entry_rows__projects")),
    )
    op.create_table(
        "time_entry_rows__tasks",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_time_entry_rows__tasks")),
    )
    op.create_table(
        "utilization",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("person_name", sa.String(length=401), nullable=False),
        sa.Column("hundredths", sa.BigInteger(), nullable=False),
        sa.Column("billable_hundredths", sa.BigInteger(), nullable=False),
        sa.Column("capacity_hundredths", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "week", name=op.f("pk_utilization")),
    )
    with op.batch_alter_table("utilization", schema=None) as batch_op:
        batch_op.create_index(
            "ix_utilization_week_start", ["week_start", "person_id"], unique=False
        )

    op.create_table(
        "utilization__people",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=401), nullable=False),
        sa.Column("capacity_hundredths", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_utilization__people")),
    )


def downgrade() -> None:
    op.drop_table("utilization__people")
    with op.batch_alter_table("utilization", schema=None) as batch_op:
        batch_op.drop_index("ix_utilization_week_start")

    op.drop_table("utilization")
    op.drop_table("time_entry_rows__tasks")
    op.drop_table("time_entry_rows__projects")
    op.drop_table("time_entry_rows__people")
    op.drop_table("time_entry_rows__clients")
    with op.batch_alter_table("time_entry_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entry_rows_status_date")
        batch_op.drop_index("ix_time_entry_rows_project_id_date")
        batch_op.drop_index("ix_time_entry_rows_person_id_date")
        batch_op.drop_index("ix_time_entry_rows_date")
        batch_op.drop_index("ix_time_entry_rows_client_id")

    op.drop_table("time_entry_rows")
    with op.batch_alter_table("project_dashboards__team", schema=None) as batch_op:
        batch_op.drop_index("ix_project_dashboards__team_person_id")

    op.drop_table("project_dashboards__team")
    op.drop_table("client_revenue__clients")
    with op.batch_alter_table("client_revenue", schema=None) as batch_op:
        batch_op.drop_index("ix_client_revenue_month_start")

    op.drop_table("client_revenue")
    op.drop_table("budget_burn__projects")
    op.drop_table("budget_burn")

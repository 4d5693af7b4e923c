"""checkpoints_and_dashboards

Revision ID: 0001
Revises:
Create Date: 2026-11-26 10:30:35.924445
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("projection", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_actions")),
    )
    op.create_table(
        "parked_events",
        sa.Column("projection", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_key", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("projection", "position", name=op.f("pk_parked_events")),
    )
    with op.batch_alter_table("parked_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_parked_events_projection_event_key", ["projection", "event_key"], unique=False
        )

    op.create_table(
        "project_dashboards",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=False),
        sa.Column("manager_name", sa.String(length=401), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("budget_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_hundredths", sa.BigInteger(), nullable=False),
        sa.Column("billable_hundredths", sa.BigInteger(), nullable=False),
        sa.Column("billed_cents", sa.BigInteger(), nullable=False),
        sa.Column("budget_used_pct", sa.Numeric(precision=12, scale=1), nullable=False),
        sa.Column("active_task_count", sa.Integer(), nullable=False),
        sa.Column("completed_task_count", sa.Integer(), nullable=False),
        sa.Column(
            "team",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_dashboards")),
    )
    with op.batch_alter_table("project_dashboards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_project_dashboards_budget_used_pct", ["budget_used_pct", "project_id"], unique=False
        )
        batch_op.create_index(
            "ix_project_dashboards_client_id_name",
            ["client_id", "name", "project_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_project_dashboards_manager_id_name",
            ["manager_id", "name", "project_id"],
            unique=False,
        )
        batch_op.create_index("ix_project_dashboards_name", ["name", "project_id"], unique=False)

    op.create_table(
        "project_dashboards__clients",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_project_dashboards__clients")),
    )
    op.create_table(
        "project_dashboards__people",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=401), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_project_dashboards__people")),
    )
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_position", sa.BigInteger(), nullable=True),
        sa.Column("failing_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rebuild_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("events_applied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failures", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projection_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("projection_checkpoints")
    op.drop_table("project_dashboards__people")
    op.drop_table("project_dashboards__clients")
    with op.batch_alter_table("project_dashboards", schema=None) as batch_op:
        batch_op.drop_index("ix_project_dashboards_name")
        batch_op.drop_index("ix_project_dashboards_manager_id_name")
        batch_op.drop_index("ix_project_dashboards_client_id_name")
        batch_op.drop_index("ix_project_dashboards_budget_used_pct")

    op.drop_table("project_dashboards")
    with op.batch_alter_table("parked_events", schema=None) as batch_op:
        batch_op.drop_index("ix_parked_events_projection_event_key")

    op.drop_table("parked_events")
    op.drop_table("operator_actions")

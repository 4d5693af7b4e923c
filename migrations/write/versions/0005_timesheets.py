"""timesheets: the last action on a person's week, and who took it

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing entries keep their states (submitted, approved, rejected); new ones are drafts.
    op.create_table(
        "timesheets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("last_action", sa.String(length=10), nullable=True),
        sa.Column("acted_by", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_timesheets_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timesheets")),
        sa.UniqueConstraint("person_id", "week", name=op.f("uq_timesheets_person_id_week")),
    )


def downgrade() -> None:
    op.drop_table("timesheets")

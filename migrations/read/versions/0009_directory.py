"""directory: clients, people, projects' managers and members, tasks (the lookups)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_clients",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_directory_clients")),
    )
    op.create_index("ix_directory_clients_name_key", "directory_clients", ["name_key", "client_id"])
    op.create_table(
        "directory_people",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=401), nullable=False),
        sa.Column("name_key", sa.String(length=401), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("weekly_capacity_hundredths", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_directory_people")),
    )
    op.create_index("ix_directory_people_name_key", "directory_people", ["name_key", "person_id"])
    op.create_table(
        "directory_projects",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_directory_projects")),
    )
    op.create_index("ix_directory_projects_manager_id", "directory_projects", ["manager_id"])
    op.create_table(
        "directory_members",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "person_id", name=op.f("pk_directory_members")),
    )
    op.create_index("ix_directory_members_person_id", "directory_members", ["person_id"])
    op.create_table(
        "directory_tasks",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("estimate_hundredths", sa.Integer(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_directory_tasks")),
    )
    op.create_index(
        "ix_directory_tasks_project_id_name_key",
        "directory_tasks",
        ["project_id", "name_key", "task_id"],
    )


def downgrade() -> None:
    for table in (
        "directory_tasks",
        "directory_members",
        "directory_projects",
        "directory_people",
        "directory_clients",
    ):
        op.drop_table(table)

"""Write-side tables and the event log (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.model import DAY_LIMIT_HUNDREDTHS

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

Json = JSON().with_variant(JSONB(), "postgresql")
Position = BigInteger().with_variant(Integer(), "sqlite")

clients = Table(
    "clients",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("version", Integer, nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("first_name", String(200), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("weekly_capacity_hundredths", Integer, nullable=False),
    Column("default_bill_rate_cents", BigInteger),
    Column("cost_rate_cents", BigInteger),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("version", Integer, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("person_id", Uuid, ForeignKey("people.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("id", Uuid, nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("client_id", Uuid, ForeignKey("clients.id"), nullable=False, index=True),
    Column("manager_id", Uuid, ForeignKey("people.id"), nullable=False, index=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("budget_cents", BigInteger, nullable=False),
    Column("default_bill_rate_cents", BigInteger),
    Column("status", String(10), nullable=False),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("version", Integer, nullable=False),
)

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", Uuid, ForeignKey("projects.id"), primary_key=True),
    Column("person_id", Uuid, ForeignKey("people.id"), primary_key=True, index=True),
    Column("role", String(200), nullable=False),
    Column("bill_rate_cents", BigInteger),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("project_id", Uuid, ForeignKey("projects.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("estimate_hundredths", Integer),
    Column("completed", Boolean, nullable=False),
)

time_entries = Table(
    "time_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("project_id", Uuid, ForeignKey("projects.id"), nullable=False, index=True),
    Column("person_id", Uuid, ForeignKey("people.id"), nullable=False),
    Column("task_id", Uuid, ForeignKey("tasks.id")),
    Column("date", Date, nullable=False),
    Column("hours_hundredths", Integer, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("rate_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("cost_rate_cents", BigInteger, nullable=False, server_default="0"),
    Column("cost_cents", BigInteger, nullable=False, server_default="0"),
    Column("status", String(10), nullable=False),
    Column("notes", Text),
    Column("version", Integer, nullable=False),
    Index("ix_time_entries_person_id_date", "person_id", "date"),
    CheckConstraint(
        f"hours_hundredths > 0 AND hours_hundredths <= {DAY_LIMIT_HUNDREDTHS}", name="hours_range"
    ),
)

timesheets = Table(
    "timesheets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("person_id", Uuid, ForeignKey("people.id"), nullable=False),
    Column("week", String(8), nullable=False),
    Column("last_action", String(10)),
    Column("acted_by", Uuid),
    Column("reason", Text),
    Column("version", Integer, nullable=False),
    UniqueConstraint("person_id", "week"),
)

firm_settings = Table(
    "firm_settings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("lock_date", Date),
    Column("lock_date_set_by", Uuid),
    Column("version", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller_id", Uuid, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response_body", Json),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

event_log = Table(
    "event_log",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("aggregate_type", String(50), nullable=False),
    Column("aggregate_id", Uuid, nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("data", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("aggregate_id", "aggregate_version"),
    sqlite_autoincrement=True,
)

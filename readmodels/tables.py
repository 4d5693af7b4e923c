"""Read-database tables: projection bookkeeping and each projection's read tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.store.tables import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

Json = JSON().with_variant(JSONB(), "postgresql")
Position = BigInteger()

projection_checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("position", Position, nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("updated_at", DateTime(timezone=True)),
    Column("last_progress_at", DateTime(timezone=True)),
    Column("failing_position", Position),
    Column("failing_attempts", Integer, nullable=False, server_default="0"),
    Column("retry_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("last_error_at", DateTime(timezone=True)),
    Column("rebuild_heartbeat_at", DateTime(timezone=True)),
    Column("events_applied", BigInteger, nullable=False, server_default="0"),
    Column("failures", BigInteger, nullable=False, server_default="0"),
)

parked_events = Table(
    "parked_events",
    metadata,
    Column("projection", String(100), primary_key=True),
    Column("position", Position, primary_key=True),
    Column("event_key", String(100), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("error", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    Index("ix_parked_events_projection_event_key", "projection", "event_key"),
)

operator_actions = Table(
    "operator_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("projection", String(100), nullable=False),
    Column("action", String(20), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("detail", Json, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# The last verify of each projection: rows that differed from the write tables in two passes.
projection_verifications = Table(
    "projection_verifications",
    metadata,
    Column("projection", String(100), primary_key=True),
    Column("drift_rows", Integer, nullable=False),
    Column("verified_at", DateTime(timezone=True), nullable=False),
    Column("seconds", Numeric(10, 3), nullable=False),
)

# project_dashboards: one row per project, plus the names it copies from other aggregates.
project_dashboards = Table(
    "project_dashboards",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(10), nullable=False),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("client_id", Uuid, nullable=False),
    Column("client_name", String(200), nullable=False),
    Column("manager_id", Uuid, nullable=False),
    Column("manager_name", String(401), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("budget_cents", BigInteger, nullable=False),
    Column("total_hundredths", BigInteger, nullable=False),
    Column("billable_hundredths", BigInteger, nullable=False),
    Column("billed_cents", BigInteger, nullable=False),
    Column("total_cost_cents", BigInteger, nullable=False, server_default="0"),
    Column("budget_used_pct", Numeric(12, 1), nullable=False),
    Column("active_task_count", Integer, nullable=False),
    Column("completed_task_count", Integer, nullable=False),
    Column("team", Json, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_project_dashboards_client_id_name", "client_id", "name", "project_id"),
    Index("ix_project_dashboards_manager_id_name", "manager_id", "name", "project_id"),
    Index("ix_project_dashboards_name", "name", "project_id"),
    Index("ix_project_dashboards_budget_used_pct", "budget_used_pct", "project_id"),
)

project_dashboards__clients = Table(
    "project_dashboards__clients",
    metadata,
    Column("client_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
)

project_dashboards__people = Table(
    "project_dashboards__people",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("name", String(401), nullable=False),
)

project_dashboards__team = Table(
    "project_dashboards__team",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("role", String(200), nullable=False),
    Column("bill_rate_cents", BigInteger),
    Index("ix_project_dashboards__team_person_id", "person_id"),
)

# time_entry_rows: one row per entry, with the names the lists show.
time_entry_rows = Table(
    "time_entry_rows",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("date", Date, nullable=False),
    Column("hours_hundredths", Integer, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("value_cents", BigInteger, nullable=False),
    Column("billable_amount_cents", BigInteger, nullable=False, server_default="0"),
    Column("status", String(10), nullable=False),
    Column("notes", Text),
    Column("person_id", Uuid, nullable=False),
    Column("person_name", String(401), nullable=False),
    Column("project_id", Uuid, nullable=False),
    Column("project_name", String(200), nullable=False),
    Column("client_id", Uuid, nullable=False),
    Column("client_name", String(200), nullable=False),
    Column("task_id", Uuid),
    Column("task_name", String(200)),
    Column("rejection_reason", Text),
    Index("ix_time_entry_rows_person_id_date", "person_id", "date", "id"),
    Index("ix_time_entry_rows_project_id_date", "project_id", "date", "id"),
    Index("ix_time_entry_rows_status_date", "status", "date", "id"),
    Index("ix_time_entry_rows_date", "date", "id"),
    Index("ix_time_entry_rows_client_id", "client_id"),
)

time_entry_rows__people = Table(
    "time_entry_rows__people",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("name", String(401), nullable=False),
)

time_entry_rows__projects = Table(
    "time_entry_rows__projects",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
)

time_entry_rows__clients = Table(
    "time_entry_rows__clients",
    metadata,
    Column("client_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
)

time_entry_rows__tasks = Table(
    "time_entry_rows__tasks",
    metadata,
    Column("task_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
)

# utilization: person x ISO week.
utilization = Table(
    "utilization",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("week_start", Date, nullable=False),
    Column("person_name", String(401), nullable=False),
    Column("hundredths", BigInteger, nullable=False),
    Column("billable_hundredths", BigInteger, nullable=False),
    Column("capacity_hundredths", Integer, nullable=False),
    Column("entries", Integer, nullable=False),
    Index("ix_utilization_week_start", "week_start", "person_id"),
)

utilization__people = Table(
    "utilization__people",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("name", String(401), nullable=False),
    Column("capacity_hundredths", Integer, nullable=False),
)

# client_revenue: client x month, over the entries that count (billed from billable ones).
client_revenue = Table(
    "client_revenue",
    metadata,
    Column("client_id", Uuid, primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("month_start", Date, nullable=False),
    Column("client_name", String(200), nullable=False),
    Column("billable_hundredths", BigInteger, nullable=False),
    Column("billed_cents", BigInteger, nullable=False),
    Column("cost_cents", BigInteger, nullable=False, server_default="0"),
    Column("entries", Integer, nullable=False),
    Index("ix_client_revenue_month_start", "month_start", "client_id"),
)

client_revenue__clients = Table(
    "client_revenue__clients",
    metadata,
    Column("client_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
)

# budget_burn: project x ISO week.
budget_burn = Table(
    "budget_burn",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("week_start", Date, nullable=False),
    Column("hundredths", BigInteger, nullable=False),
    Column("billed_cents", BigInteger, nullable=False),
    Column("budget_cents", BigInteger, nullable=False),
    Column("entries", Integer, nullable=False),
)

budget_burn__projects = Table(
    "budget_burn__projects",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("budget_cents", BigInteger, nullable=False),
)

# project_profitability: project x month, billed against cost.
project_profitability = Table(
    "project_profitability",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("month_start", Date, nullable=False),
    Column("project_name", String(200), nullable=False),
    Column("hundredths", BigInteger, nullable=False),
    Column("billed_cents", BigInteger, nullable=False),
    Column("cost_cents", BigInteger, nullable=False),
    Column("entries", Integer, nullable=False),
    Index("ix_project_profitability_month_start", "month_start", "project_id"),
)

project_profitability__projects = Table(
    "project_profitability__projects",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
)

# timesheet_weeks (the timesheets projection): person x ISO week, with its entries by status.
timesheet_weeks = Table(
    "timesheet_weeks",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("week_start", Date, nullable=False),
    Column("person_name", String(401), nullable=False),
    Column("hundredths", BigInteger, nullable=False),
    Column("draft_entries", Integer, nullable=False),
    Column("submitted_entries", Integer, nullable=False),
    Column("approved_entries", Integer, nullable=False),
    Column("rejected_entries", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("last_action", String(10)),
    Column("acted_by", Uuid),
    Column("acted_by_name", String(401)),
    Column("reason", Text),
    Index("ix_timesheet_weeks_week_start", "week_start", "person_id"),
    Index("ix_timesheet_weeks_status_week_start", "status", "week_start", "person_id"),
)

timesheet_weeks__people = Table(
    "timesheet_weeks__people",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("name", String(401), nullable=False),
)

timesheet_weeks__actions = Table(
    "timesheet_weeks__actions",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("last_action", String(10), nullable=False),
    Column("acted_by", Uuid),
    Column("reason", Text),
)

# lock_date: the firm's lock date and who set it (one row once it has been set).
lock_date = Table(
    "lock_date",
    metadata,
    Column("firm_id", Uuid, primary_key=True),
    Column("lock_date", Date),
    Column("set_by", Uuid),
)

# directory: the lookups (clients, people, tasks) and who works on which project, for the
# visibility rules of people. `name_key` is the name lowercased, for case-blind prefixes.
directory_clients = Table(
    "directory_clients",
    metadata,
    Column("client_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Index("ix_directory_clients_name_key", "name_key", "client_id"),
)

directory_people = Table(
    "directory_people",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("first_name", String(200), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("name", String(401), nullable=False),
    Column("name_key", String(401), nullable=False),
    Column("email", String(320), nullable=False),
    Column("role", String(20), nullable=False),
    Column("weekly_capacity_hundredths", Integer, nullable=False),
    Index("ix_directory_people_name_key", "name_key", "person_id"),
)

directory_projects = Table(
    "directory_projects",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("manager_id", Uuid, nullable=False),
    Index("ix_directory_projects_manager_id", "manager_id"),
)

directory_members = Table(
    "directory_members",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Index("ix_directory_members_person_id", "person_id"),
)

directory_tasks = Table(
    "directory_tasks",
    metadata,
    Column("task_id", Uuid, primary_key=True),
    Column("project_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("estimate_hundredths", Integer),
    Column("completed", Boolean, nullable=False),
    Index("ix_directory_tasks_project_id_name_key", "project_id", "name_key", "task_id"),
)

"""Least-privilege grants for the role the API and workers connect as (TALLY_RUNTIME_ROLE).

`tally db upgrade`, connected as the migration role that owns the schema, runs this after the
migrations on PostgreSQL. The runtime role gets DML on the write tables and on the read
side's bookkeeping tables, and owns the projections' tables, because a blue/green rebuild
creates, drops and renames them. It can alter no write table, nor truncate or drop one.
The roles themselves come from deploy/postgres/roles.sql.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from domain.store import tables as write_tables
from domain.store.db import Databases, is_sqlite
from readmodels import tables as read_tables
from readmodels.registry import PROJECTIONS

DML = "SELECT, INSERT, UPDATE, DELETE"


def projection_table_names() -> set[str]:
    return {table.name for projection in PROJECTIONS.values() for table in projection.tables}


def grant_runtime_role(databases: Databases, role: str) -> None:
    if is_sqlite(databases.write):
        return
    with databases.write.begin() as conn:
        quoted = _quoted_role(conn, role)
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
        for table in write_tables.metadata.sorted_tables:
            conn.execute(text(f'GRANT {DML} ON TABLE "{table.name}" TO {quoted}'))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
    owned = projection_table_names()
    with databases.read.begin() as conn:
        quoted = _quoted_role(conn, role)
        # CREATE: a rebuild makes its shadow tables beside the live ones.
        conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {quoted}"))
        for table in read_tables.metadata.sorted_tables:
            if table.name in owned:
                conn.execute(text(f'ALTER TABLE "{table.name}" OWNER TO {quoted}'))
            else:
                conn.execute(text(f'GRANT {DML} ON TABLE "{table.name}" TO {quoted}'))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))


def _quoted_role(conn: Connection, role: str) -> str:
    """The role's name quoted for SQL, after checking that it exists."""
    found = conn.execute(
        text("SELECT quote_ident(rolname) FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).scalar_one_or_none()
    if found is None:
        raise SystemExit(f"tally: TALLY_RUNTIME_ROLE {role} is not a PostgreSQL role")
    return str(found)

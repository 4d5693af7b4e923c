-- The two roles Tally connects as; run once by the superuser, in the application database
-- (deploy/postgres/init-roles.sh does it when the compose PostgreSQL initialises):
--   TALLY_MIGRATE_PASSWORD=... TALLY_APP_PASSWORD=... psql -v migrate_role=tally_migrate \
--        -v app_role=tally_app -v database=tally -f roles.sql
-- Passwords come from the environment (\getenv), never from a command line.
-- The migration role owns the database and its schema (DDL); the runtime role may connect
-- and gets its rights from `tally db upgrade` (migrations/roles.py): DML on the write
-- tables, ownership of the projections' tables. The migration role is a member of the
-- runtime role so that it can hand those tables over and alter them in later migrations.
\set ON_ERROR_STOP on
\getenv migrate_password TALLY_MIGRATE_PASSWORD
\getenv app_password TALLY_APP_PASSWORD

CREATE ROLE :"migrate_role" LOGIN PASSWORD :'migrate_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
GRANT :"app_role" TO :"migrate_role";

ALTER DATABASE :"database" OWNER TO :"migrate_role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"app_role";
ALTER SCHEMA public OWNER TO :"migrate_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;

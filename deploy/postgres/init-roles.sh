#!/bin/sh
# Run by the postgres image's entrypoint on first initialisation (docker-entrypoint-initdb.d):
# creates Tally's migration and runtime roles, passwords read from Docker secrets.
set -eu
TALLY_MIGRATE_PASSWORD="$(cat /run/secrets/postgres_migrate_password)"
TALLY_APP_PASSWORD="$(cat /run/secrets/postgres_app_password)"
export TALLY_MIGRATE_PASSWORD TALLY_APP_PASSWORD
psql --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v migrate_role=tally_migrate -v app_role=tally_app -v database="$POSTGRES_DB" \
  -f /etc/tally/roles.sql

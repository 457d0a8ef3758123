#!/bin/sh
# Creates Temporal's two databases and brings their schemas to the version that ships in
# this admin-tools image. Safe to run again: existing databases are kept and only
# migrated. Runs in temporalio/admin-tools (docker-compose.yml, service temporal-schema),
# and in the `production` test project with the SQL tool and schema files that
# scripts/install-temporal-server caches (TEMPORAL_SCHEMA_DIR). The password comes from
# SQL_PASSWORD, which temporal-sql-tool reads itself.
set -eu

host=${POSTGRES_SEEDS:-postgresql}
port=${DB_PORT:-5432}
user=${POSTGRES_USER:-temporal}
schema=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12

# The image has nc; the tests start PostgreSQL themselves and run this once it accepts connections.
if command -v nc >/dev/null 2>&1; then
  echo "waiting for PostgreSQL at $host:$port"
  until nc -z -w 5 "$host" "$port"; do sleep 1; done
fi

for database in temporal temporal_visibility; do
  case $database in
    temporal) dir=$schema/temporal/versioned ;;
    *) dir=$schema/visibility/versioned ;;
  esac
  tool="temporal-sql-tool --plugin postgres12 --ep $host -p $port -u $user --db $database"
  # `create` fails when the database exists; that is the normal case after the first start.
  $tool create || echo "database $database exists"
  $tool setup-schema -v 0.0 || echo "schema of $database already set up"
  $tool update-schema -d "$dir"
done
echo "Temporal schema ready"

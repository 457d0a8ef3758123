#!/bin/sh
# Starts kvm-clone's Temporal server: frontend, history, matching and worker in one process,
# with the config template config/production.yaml next to this script, which the server
# renders from the environment (see the variables at its top). The schema must exist
# (deploy/compose/scripts/setup-postgres.sh). docker-compose.yml runs this script in the
# temporalio/server image; the `production` test project runs it with the server that
# scripts/install-temporal-server builds. `temporal-server` must be on PATH.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

: "${DYNAMIC_CONFIG_FILE_PATH:=$here/dynamicconfig/production.yaml}"
export DYNAMIC_CONFIG_FILE_PATH

# Bound to every address, the server must still announce one that the other members of the
# cluster can reach: this host's, as the temporalio/server image's own entrypoint does.
if [ "${BIND_ON_IP:-}" = 0.0.0.0 ] && [ -z "${TEMPORAL_BROADCAST_ADDRESS:-}" ]; then
  TEMPORAL_BROADCAST_ADDRESS=$(getent hosts "$(hostname)" | awk '{ print $1; exit }')
  export TEMPORAL_BROADCAST_ADDRESS
fi

# --root / makes the absolute --config path stay absolute (the server joins the two).
# No authorizer: secure the frontend with mTLS and network policy (docs/operations.md).
exec temporal-server --root / --config "$here/config" --env production --allow-no-auth start

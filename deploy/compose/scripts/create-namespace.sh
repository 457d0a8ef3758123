#!/bin/sh
# Registers the namespace the kvm-clone workers use, unless it exists. Runs in
# temporalio/admin-tools (docker-compose.yml, service temporal-create-namespace).
set -eu

namespace=${DEFAULT_NAMESPACE:-default}
address=${TEMPORAL_ADDRESS:-temporal:7233}
retention=${NAMESPACE_RETENTION:-7d}

attempt=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "Temporal at $address did not become healthy" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe --namespace "$namespace" --address "$address" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  temporal operator namespace create --namespace "$namespace" --retention "$retention" --address "$address"
  echo "namespace $namespace created"
fi

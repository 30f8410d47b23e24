#!/usr/bin/env bash
# The Citus test tier (docs/scale-out.md): install Citus when missing, start a coordinator and
# two workers on loopback (or use CAMPAIGNDB_CITUS_DSN, a coordinator database of your own
# cluster whose citus extension knows its workers), deploy with `alembic upgrade head`, run
# the integration and concurrency suites there, and stop the cluster we started.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PY:-.venv/bin/python}
began=$(date +%s)

own=0
if [[ -z "${CAMPAIGNDB_CITUS_DSN:-}" ]]; then
    own=1
    CAMPAIGNDB_CITUS_DSN=$("$py" scripts/citus_cluster.py start)
    trap '"$py" scripts/citus_cluster.py stop --destroy' EXIT
fi
export CAMPAIGNDB_CITUS_DSN
# The suites' server (admin connections, PgBouncer) is the coordinator.
export CAMPAIGNDB_DSN=$CAMPAIGNDB_CITUS_DSN

echo "deploying on the coordinator: alembic upgrade head"
"$py" -m alembic upgrade head
"$py" scripts/citus_cluster.py layout

status=0
# Tests marked citus_incompatible assert what Citus cannot give by design; docs/scale-out.md
# states what holds instead.
"$py" -m pytest tests/python/integration tests/python/concurrency -p no:cacheprovider \
    -m "not citus_incompatible" ${PYTEST_ARGS:-} || status=$?
if [[ $own -eq 1 ]]; then
    "$py" scripts/citus_cluster.py stop --destroy
    trap - EXIT
fi
echo "citus tier: $(( $(date +%s) - began )) s wall, pytest exit $status"
exit $status

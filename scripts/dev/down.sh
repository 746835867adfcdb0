#!/usr/bin/env bash
# make dev-down: stops the dev platform (the Cloud API emulator, the platform Postgres), takes the
# one-node cluster down (`make cluster-down`) and removes /tmp/switchboard-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/dev/env.sh
[ -f "$work/emulator.pid" ] && kill "$(cat "$work/emulator.pid")" 2>/dev/null || true
platform_postgres_stop
make --no-print-directory cluster-down >&2
rm -rf "$work" .build/dev
log "the dev platform and the cluster are down"

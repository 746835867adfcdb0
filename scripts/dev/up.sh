#!/usr/bin/env bash
# make dev: the dev loop without Tilt, on the one-node cluster.
#
#   scripts/dev/up.sh            platform, dev images, chart, tenant, owner; then the inbox proxy
#                                on http://localhost:$DEV_PORT (8080) and the sync loop until Ctrl-C
#   DEV_ONCE=1                   stop after the setup (no proxy, no loop)
#
# 1. scripts/dev/platform.sh (cluster, platform Postgres, emulator, values; reused when there).
# 2. scripts/dev/image.sh for the operator, API and worker, tagged dev-<time>, imported into the
#    cluster's containerd.
# 3. helm upgrade --install of charts/switchboard with the operator's dev image; the dev tenant
#    (scripts/dev/tenant.yaml) with its API and worker dev images; scripts/dev/owner.sh.
# 4. `node packages/devloop/src/cli.ts proxy` (the Ingress at localhost) and `... sync dev`: each
#    changed source under packages/, services/ and operator/ (src/, no tests) is copied into the
#    running operator, API and worker pods' /tmp/sync with `kubectl exec ... tar -x`, and their
#    supervisors restart the process. The cluster stays up afterwards: `make dev-down` removes it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/dev/env.sh

scripts/dev/platform.sh
tag="dev-$(date +%s)"
for component in operator api worker; do
  log "dev image $component"
  scripts/dev/image.sh "$component" "localhost/switchboard/$component-dev:$tag"
done
log "helm upgrade --install"
helm upgrade --install switchboard charts/switchboard -n switchboard-system -f "$values" \
  --set image.repository=localhost/switchboard/operator-dev --set "image.tag=$tag" \
  --wait --timeout 300s >&2
sed -e "s|localhost/switchboard/api-dev\$|localhost/switchboard/api-dev:$tag|" \
  -e "s|localhost/switchboard/worker-dev\$|localhost/switchboard/worker-dev:$tag|" scripts/dev/tenant.yaml |
  kubectl apply -f - >&2
scripts/dev/owner.sh
log "set up in $((SECONDS - dev_started)) s"
[ "${DEV_ONCE:-0}" = 1 ] && exit 0

node packages/devloop/src/cli.ts proxy "$host" "${DEV_PORT:-8080}" &
proxy=$!
trap 'kill "$proxy" 2>/dev/null || true' EXIT
node packages/devloop/src/cli.ts sync "$tenant"

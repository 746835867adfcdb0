#!/usr/bin/env bash
# The dev loop's platform around the chart (`make dev`, `make tilt-up`, `make tilt-ci`), each step
# reused when it is already there: the tenants' Redis image (images/build-redis.sh), the one-node
# cluster (`make cluster-up`), a platform Postgres and the Cloud API emulator on the host (the
# functions make e2e uses: test/e2e/lib/platform.sh), the chart's namespaces, the Secret
# platform-postgres and its values for this cluster (.build/dev/values.yaml), a Redis volume, and
# the dev tenant's cloud-api Secret with the NetworkPolicy letting its workers reach the emulator.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/dev/env.sh
# The platform Postgres and the emulator outlive this script: they must not inherit its open
# files (`flock <lock> make dev` would otherwise stay locked until they stop).
for fd in /proc/$$/fd/*; do
  fd="${fd##*/}"
  # 255: the file bash reads this script from.
  if [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

images/build-redis.sh >&2
log "cluster-up"
make --no-print-directory cluster-up >&2
kubectl wait --for=condition=Ready node --all --timeout=120s >/dev/null

mkdir -p "$work" .build/dev
if runuser -u nobody -- "$pg_bin/pg_ctl" -D "$work/pg/data" status >/dev/null 2>&1 && [ -s "$work/pg-password" ]; then
  pg_password="$(cat "$work/pg-password")"
  log "platform Postgres already on $node_ip:$pg_port"
else
  platform_postgres_start
  (umask 077 && printf '%s\n' "$pg_password" >"$work/pg-password")
fi
if curl -sf "http://$node_ip:$emulator_port/_emulator/sent" >/dev/null 2>&1; then
  log "Cloud API emulator already on $node_ip:$emulator_port"
else
  emulator_start
  deadline=$((SECONDS + 30))
  until curl -sf "http://$node_ip:$emulator_port/_emulator/sent" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the Cloud API emulator did not answer within 30 s ($work/emulator.log)"
    sleep 1
  done
  log "Cloud API emulator on $node_ip:$emulator_port"
fi

platform_namespaces_and_secret
chart_values "$values"
redis_volumes 1 dev-redis
emulator_access "$tenant-sales-cloud-api" "$tenant" "$tenant-cloud-api-emulator"
log "platform ready: chart values in ${values#"$PWD/"}"

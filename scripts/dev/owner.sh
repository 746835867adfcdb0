#!/usr/bin/env bash
# Once the dev tenant is Ready (bounded wait): points the Cloud API emulator's webhooks at the
# tenant's API Service, seeds the owner with test/e2e/seed-owner.ts (idempotent) and prints how
# to log in. Run by `make dev` and by the Tiltfile's `owner` resource.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/dev/env.sh

timeout="${DEV_READY_TIMEOUT:-600}"
log "waiting for the tenant $tenant to be Ready (at most ${timeout} s)"
if ! kubectl -n "$ns" wait --for=condition=Ready "wat/$tenant" --timeout="${timeout}s" >/dev/null; then
  kubectl -n "$ns" get wat,pods,jobs -o wide >&2 || true
  fail "the tenant $tenant is not Ready"
fi
kubectl -n "$ns" get wat "$tenant" >&2
api_ip="$(kubectl -n "$ns" get svc "$tenant-api" -o jsonpath='{.spec.clusterIP}')"
curl -sf -X PUT "http://$node_ip:$emulator_port/_emulator/webhook" -H 'content-type: application/json' \
  -d "{\"url\":\"http://$api_ip/webhooks/cloud-api\"}" >/dev/null || fail "could not point the emulator at the API"
app_url="$(kubectl -n "$ns" get secret "$tenant-db" -o jsonpath='{.data.appUrl}' | base64 -d)"
node test/e2e/seed-owner.ts "$app_url" "$tenant" "$owner_email" "$owner_password"
deadline=$((SECONDS + 120))
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" http://127.0.0.1:18080/readyz)" = 200 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "GET /readyz through the Ingress (Host: $host) did not answer 200 within 120 s"
  sleep 2
done
log "the tenant $tenant is Ready; inbox: http://localhost:${DEV_PORT:-8080} (the proxy), login $owner_email / $owner_password"
log "as a customer: curl -X POST http://$node_ip:$emulator_port/_emulator/customer/messages -H 'content-type: application/json' -d '{\"from\":\"5511999990000\",\"type\":\"text\",\"text\":\"hi\"}'"

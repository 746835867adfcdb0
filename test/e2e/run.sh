#!/usr/bin/env bash
# make e2e: the whole platform in pods on the project's one-node cluster (packages/cluster).
#
#   test/e2e/run.sh            images (make images, images/build.sh cloud-api-emulator,
#                              images/build-redis.sh), cluster-up, platform Postgres on the host,
#                              the Cloud API emulator in the cluster, helm install, the tenant,
#                              the assertions
#   E2E_REUSE_IMAGES=1         skip building when .build/images holds the four app archives
#   E2E_KEEP=1                 leave the cluster and the host Postgres running at the end
#   E2E_DAY2=1                 then the day-2 scenarios (test/e2e/day2.sh; make e2e-day2)
#
# The platform Postgres runs on the host (Debian's postgresql 15, as user nobody), listening on
# the node address 10.244.0.1 (the cluster bridge's) only: pods reach it like any address
# outside the cluster, the tenants' NetworkPolicies allow it as a /32, and no image has to be
# built for it. The Cloud API emulator plays Meta in the cluster (test/e2e/emulator.yaml:
# namespace meta, a Deployment, its Service as the tenant's Graph base URL, webhooks to the
# tenant API's Service, the control API through the Ingress as meta.e2e.test). Every wait is
# bounded (`kubectl wait --timeout`, or a poll with a deadline) and names what it waited for
# when it fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
[ -n "${CONTAINERS_CONF:-}" ] || . scripts/toolchain.sh

started=$SECONDS
log() { printf '[e2e %4ds] %s\n' "$((SECONDS - started))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

bin="${SWITCHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard}/envtest/1.35.4/bin"
[ -x "$bin/helm" ] && [ -x "$bin/kubectl" ] || make --no-print-directory envtest-binaries >&2
export PATH="$bin:$PATH"
cluster_dir="${SWITCHBOARD_CLUSTER_DIR:-${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}/cluster}"
export KUBECONFIG="$cluster_dir/kubeconfig"
node_ip=10.244.0.1
pg_port=15432
host=acme.e2e.test
ns=tenants
work=/tmp/switchboard-e2e
pg_bin=/usr/lib/postgresql/15/bin
# The in-cluster emulator's Ingress host (Traefik on 127.0.0.1:18080); emulator_curl uses it.
emulator_host=meta.e2e.test
# platform_postgres_start/stop, platform_namespaces_and_secret, chart_values, redis_volumes,
# cloud_api_secret: shared with the dev loop (scripts/dev/); emulator_deploy, emulator_wait,
# emulator_curl: the in-cluster emulator.
. test/e2e/lib/platform.sh

# Polls "$@" until it succeeds, at most $1 seconds.
until_ok() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what (not within ${timeout}s)"
    sleep 2
  done
  log "ok: $what"
}

cleanup() {
  local rc=$?
  # Background clients (day2.sh's bursts and poller) end with the run: left running they would
  # write their results into the next run's $work.
  local pids
  pids="$(jobs -p)"
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    log "diagnostics"
    kubectl get wat,pods,jobs,sts,deploy,pvc,ingress -n "$ns" -o wide >&2 2>&1 || true
    kubectl get pods -n switchboard-system -o wide >&2 2>&1 || true
    kubectl get pods,svc,ingress -n meta -o wide >&2 2>&1 || true
    kubectl logs -n meta deployment/cloud-api-emulator --tail=20 >&2 2>&1 || true
    kubectl get events -n "$ns" --sort-by=.lastTimestamp 2>/dev/null | tail -30 >&2 || true
    kubectl logs -n switchboard-system -l app.kubernetes.io/component=operator --tail=30 >&2 2>&1 || true
  fi
  if [ "${E2E_KEEP:-0}" != 1 ]; then
    log "cluster-down"
    make --no-print-directory cluster-down >&2 || true
    platform_postgres_stop
  fi
  log "done in $((SECONDS - started)) s (exit $rc)"
}
trap cleanup EXIT
# A TERM or INT (check.sh interrupted) still runs the cleanup: exit runs the EXIT trap.
trap "exit 143" TERM
trap "exit 130" INT

# 1. Images.
if [ "${E2E_REUSE_IMAGES:-0}" = 1 ] && [ -s .build/images/operator.oci.tar ] && [ -s .build/images/api.oci.tar ] &&
  [ -s .build/images/worker.oci.tar ] && [ -s .build/images/cloud-api-emulator.oci.tar ]; then
  log "reusing the app images in .build/images"
else
  log "make images; images/build.sh cloud-api-emulator"
  make --no-print-directory images >&2
  images/build.sh cloud-api-emulator
fi
images/build-redis.sh
version="$(node -p 'require("./package.json").version')"

# 2. A fresh cluster: `cluster-up` leaves a running cluster as it is and imports
# .build/images/*.oci.tar only when it starts one, so whatever was left running (with other
# images) is taken down first.
log "cluster-down (whatever was left), cluster-up"
make --no-print-directory cluster-down >&2
make --no-print-directory cluster-up >&2
kubectl wait --for=condition=Ready node --all --timeout=120s >&2

# 3. The platform Postgres on the host, on the node address.
platform_postgres_stop
rm -rf "$work"
platform_postgres_start

# 4. The chart's namespaces, then the Cloud API emulator in the cluster (namespace meta), up
# before any worker starts: the chart installs while its pod starts.
platform_namespaces_and_secret
emulator_deploy
chart_values "$work/values.yaml"
log "helm install"
helm upgrade --install switchboard charts/switchboard -n switchboard-system -f "$work/values.yaml" \
  --wait --timeout 180s >&2
kubectl -n switchboard-system rollout status deployment/switchboard-operator --timeout=120s >&2
emulator_wait

# 5. Storage for Redis (no provisioner on this cluster): one hostPath volume per replica.
redis_volumes 3

# 6. The tenant.
cloud_api_secret acme-sales-cloud-api
kubectl apply -f test/e2e/tenant.yaml >&2

# 7. Assertions.
# The migration Job succeeds before any API or worker pod exists: watch pods from now on and
# record the first API/worker pod's creation against the Job's completion.
until_ok 120 "the migration Job exists" sh -c "kubectl -n $ns get jobs -l app.kubernetes.io/component=migrations -o name | grep -q ."
job="$(kubectl -n "$ns" get jobs -l app.kubernetes.io/component=migrations -o name | head -n 1)"
kubectl -n "$ns" wait --for=condition=Complete "$job" --timeout=300s >&2 || fail "$job did not complete"
completed="$(kubectl -n "$ns" get "$job" -o jsonpath='{.status.completionTime}')"
log "ok: $job completed at $completed"

until_ok 300 "2 API pods Ready" sh -c "[ \"\$(kubectl -n $ns get deploy acme-api -o jsonpath='{.status.readyReplicas}')\" = 2 ]"
until_ok 300 "2 worker pods Ready" sh -c "[ \"\$(kubectl -n $ns get deploy acme-worker -o jsonpath='{.status.readyReplicas}')\" = 2 ]"
for pod in $(kubectl -n "$ns" get pods -l 'app.kubernetes.io/component in (api,worker)' -o name); do
  created="$(kubectl -n "$ns" get "$pod" -o jsonpath='{.metadata.creationTimestamp}')"
  [[ "$created" > "$completed" || "$created" == "$completed" ]] || fail "$pod created at $created, before the migration Job completed ($completed)"
done
log "ok: every API and worker pod was created after the migration Job completed"

# The Redis group: one primary, two replicas linked to it, three Sentinels naming it.
until_ok 300 "3 Redis pods Ready" sh -c "[ \"\$(kubectl -n $ns get sts acme-redis -o jsonpath='{.status.readyReplicas}')\" = 3 ]"
until_ok 300 "3 Sentinel pods Ready" sh -c "[ \"\$(kubectl -n $ns get sts acme-sentinel -o jsonpath='{.status.readyReplicas}')\" = 3 ]"
redis_password="$(kubectl -n "$ns" get secret acme-internal -o jsonpath='{.data.REDIS_PASSWORD}' | base64 -d)"
primaries=0
for i in 0 1 2; do
  role="$(kubectl -n "$ns" exec "acme-redis-$i" -c redis -- env REDISCLI_AUTH="$redis_password" redis-cli --user admin --raw ROLE | head -n 1)"
  [ "$role" = master ] && primaries=$((primaries + 1)) && primary="acme-redis-$i"
done
[ "$primaries" = 1 ] || fail "$primaries Redis primaries, want 1"
answers=()
for i in 0 1 2; do
  answers+=("$(kubectl -n "$ns" exec "acme-sentinel-$i" -c sentinel -- env REDISCLI_AUTH="$redis_password" redis-cli --user admin --raw -p 26379 SENTINEL get-master-addr-by-name mymaster | head -n 1)")
done
for a in "${answers[@]}"; do
  [ "$a" = "${answers[0]}" ] || fail "the Sentinels disagree: ${answers[*]}"
done
case "${answers[0]}" in "$primary".*) ;; *) fail "the Sentinels name ${answers[0]}, the primary is $primary" ;; esac
log "ok: one primary ($primary); the three Sentinels agree on it"

# The API through its Service (a pod-to-Service request from the API pod itself is not
# possible without a shell; the Service's endpoints are the Ready pods) and through the Ingress.
until_ok 60 "the API Service has 2 endpoints" sh -c "[ \"\$(kubectl -n $ns get endpointslices -l kubernetes.io/service-name=acme-api -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}x{end}')\" = xx ]"
until_ok 120 "GET /readyz through the Ingress (Host: $host) answers 200" \
  sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: $host' http://127.0.0.1:18080/readyz)\" = 200 ]"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" http://127.0.0.1:18080/v1/conversations)"
[ "$code" = 401 ] || fail "GET /v1/conversations without a token through the Ingress: $code, want 401"
log "ok: /v1/conversations through the Ingress answers 401 without a token"

until_ok 180 "kubectl get wat: Ready, Workers 2/2" sh -c "kubectl -n $ns get wat acme --no-headers | grep -E ' Ready +2/2 '"
kubectl -n "$ns" get wat acme -o wide >&2
# 8. A customer message from the emulator reaches the API; the agent's reply reaches the emulator
# once. The emulator (in the cluster) delivers webhooks to the API Service's DNS name, through
# the NetworkPolicies test/e2e/emulator.yaml adds beside the tenant's.
verify="$(emulator_curl /_emulator/webhook/verify -X POST)"
[ "$(printf '%s' "$verify" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).ok))')" = true ] ||
  fail "Meta's webhook subscription check (hub.challenge) against the API failed: $verify"
log "ok: Meta's webhook subscription check (hub.challenge) passes against the API"

# The Sessions column, from the tenant's API: the cloud-api session connected, the baileys one
# (its socket leads nowhere) not, and SessionsHealthy naming it.
until_ok 180 "kubectl get wat: Sessions 1/2" sh -c "[ \"\$(kubectl -n $ns get wat acme -o jsonpath='{.status.sessionsSummary}')\" = 1/2 ]"
healthy="$(kubectl -n "$ns" get wat acme -o jsonpath='{.status.conditions[?(@.type=="SessionsHealthy")].message}')"
case "$healthy" in *phone*) ;; *) fail "SessionsHealthy does not name the baileys session 'phone': $healthy" ;; esac
log "ok: Sessions 1/2; SessionsHealthy: $healthy"

json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=new Function("j","return "+process.argv[1])(JSON.parse(s));console.log(v??"")})' "$1"; }
api() { curl -s -H "Host: $host" -H "authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
# The first owner (spec.owner.email), as a platform team hands it over: the invite link from the
# Secret the status names.
until_ok 180 "the owner invite Secret named in the status" sh -c "[ -n \"\$(kubectl -n $ns get wat acme -o jsonpath='{.status.ownerInvite.secretName}')\" ]"
invite_secret="$(kubectl -n "$ns" get wat acme -o jsonpath='{.status.ownerInvite.secretName}')"
link="$(kubectl -n "$ns" get secret "$invite_secret" -o jsonpath='{.data.url}' | base64 -d)"
# http: the e2e Ingress has no TLS (a tenant with spec.api.ingress.tlsSecretName gets an https link).
case "$link" in "http://$host/accept-invite#token="*) ;; *) fail "the owner invite link is not on the tenant's host: $link" ;; esac
log "ok: the owner invite link is in Secret $invite_secret, on http://$host/accept-invite"
owner_password="e2e-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"

# 9. The inbox in Chromium through the Ingress URL (http://acme.e2e.test/, resolved to Traefik):
# the owner opens the invite link, sets the password on the accept-invite page and is signed in;
# logs out and signs in again; the spent link is refused; a customer message appears in its
# thread, the reply typed in the composer reaches the emulator exactly once. Screenshots in
# .test-results/e2e/. A failure after the password is set is reported at the end, after the
# day-2 scenarios when they run.
inbox_failed=0
if node test/e2e/inbox.ts "$host" owner@acme.e2e.test "$owner_password" "http://$emulator_host" .test-results/e2e "$link" >&2; then
  log "ok: the inbox in Chromium through http://$host/: the owner's invite accepted on its page, a sign-in, the spent link refused, the customer's message in its thread, the typed reply at the emulator once"
else
  inbox_failed=1
  log "the inbox in Chromium through the Ingress failed (screenshots in .test-results/e2e/)"
fi

# The REST checks and day2.sh use the owner's token: a login through the Ingress with the
# password the accept-invite page set.
token="$(curl -s -H "Host: $host" -H 'content-type: application/json' http://127.0.0.1:18080/v1/auth/login \
  -d "{\"email\":\"owner@acme.e2e.test\",\"password\":\"$owner_password\"}" | json 'j.accessToken')"
[ -n "$token" ] || fail "login through the Ingress with the password set on the accept-invite page gave no access token"
log "ok: the owner logs in through the Ingress (REST) with the password set in the inbox"
# The tenant's database URL, which the day-2 scenarios (day2.sh) count rows in.
app_url="$(kubectl -n "$ns" get secret acme-db -o jsonpath='{.data.appUrl}' | base64 -d)"

# 10. The same through the REST API: a customer message from the emulator appears as a
# conversation; the agent's reply reaches the emulator exactly once.
delivery="$(emulator_curl /_emulator/customer/messages -X POST -H 'content-type: application/json' \
  -d '{"from":"5511999990000","name":"Cliente","type":"text","text":"Olá, preciso de ajuda"}')"
[ "$(printf '%s' "$delivery" | json 'j.delivery.delivered')" = true ] || fail "the emulator's webhook was not accepted: $delivery"
inbound_seen() { api http://127.0.0.1:18080/v1/conversations | json 'j.items.find(c => c.lastMessage && c.lastMessage.body === "Olá, preciso de ajuda")?.id' | grep -q .; }
until_ok 60 "the customer's message appears as a conversation through the REST API (Ingress)" inbound_seen
conversation="$(api http://127.0.0.1:18080/v1/conversations | json 'j.items.find(c => c.lastMessage && c.lastMessage.body === "Olá, preciso de ajuda").id')"
message="$(api -H 'Idempotency-Key: e2e-reply-1' http://127.0.0.1:18080/v1/messages \
  -d "{\"conversationId\":\"$conversation\",\"text\":\"Olá! Como posso ajudar?\"}" | json 'j.id')"
[ -n "$message" ] || fail "the agent's reply was not accepted"
# The reply's delivery is complete once the emulator's statuses came back through the webhook
# (read is the last); only then is counting the sends meaningful.
reply_read() { api "http://127.0.0.1:18080/v1/conversations/$conversation/messages" | json "j.items.find(m => m.id === '$message')?.status" | grep -qx read; }
until_ok 90 "the agent's reply reached the emulator and its statuses came back (read)" reply_read
sent="$(emulator_curl '/_emulator/sent?to=5511999990000' | json 'j.messages.filter(m => m.request.text && m.request.text.body === "Olá! Como posso ajudar?").length')"
[ "$sent" = 1 ] || fail "the emulator received the reply $sent times, want exactly 1"
log "ok: the reply reached the emulator exactly once"

# Day-2 operations (make e2e-day2): sourced here, with the emulator, the token and the
# conversation above; the cleanup below takes everything down after it.
if [ "${E2E_DAY2:-0}" = 1 ]; then
  . test/e2e/day2.sh
fi

[ "$inbox_failed" = 0 ] || fail "the inbox in Chromium through the Ingress"
log "PASS: the tenant stack runs in pods ($((SECONDS - started)) s)"

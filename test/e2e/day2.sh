# Day-2 operations on the tenant test/e2e/run.sh deployed (make e2e-day2: E2E_DAY2=1 run.sh).
# Sourced by run.sh after its own assertions, so the cluster, the emulator (in the cluster; its
# control API through the Ingress with emulator_curl), the owner's token and the conversation
# with the customer are there; run.sh's cleanup takes everything down after.
#
# Each scenario asserts counts: every message of a burst of $burst_size reaches the emulator
# exactly once (the database says each was sent, the emulator holds each body once, nothing
# more), and records what it measured in $work/day2.txt (printed at the end).
# shellcheck shell=bash

burst_size="${E2E_BURST:-200}"
results="$work/day2.txt"
: >"$results"
# Nothing of an earlier run's bursts counts in this one.
rm -f "$work"/d[0-9]*.error "$work"/d[0-9]*.retries "$work"/poll.*
record() {
  log "measured: $*"
  printf '%s\n' "$*" >>"$results"
}

# Access tokens live 15 minutes and the scenarios take longer: a fresh one for each.
login() {
  token="$(curl -s -H "Host: $host" -H 'content-type: application/json' http://127.0.0.1:18080/v1/auth/login \
    -d "{\"email\":\"owner@acme.e2e.test\",\"password\":\"$owner_password\"}" | json 'j.accessToken')"
  [ -n "$token" ] || fail "login through the Ingress gave no access token"
}

# The tenant's database as the platform's admin (reads across row-level security).
tenant_db="$(node -e 'const u=new URL(process.argv[1]);u.username="postgres";u.password=process.argv[2];console.log(u.href)' "$app_url" "$pg_password")"
sql() { psql "$tenant_db" -XAtqc "$1"; }

# Sends $2 messages labelled $1-<i> to the customer through the Ingress. A request that fails
# (a 5xx or no answer while something is failing over) is sent again with the same
# Idempotency-Key, as a client should; the retries are counted in $work/<label>.retries.
burst() {
  local label="$1" n="$2" i code tries retries=0
  for ((i = 1; i <= n; i++)); do
    tries=0
    while :; do
      code="$(api -o /dev/null -w '%{http_code}' --max-time 10 -H "Idempotency-Key: $label-$i" \
        http://127.0.0.1:18080/v1/messages -d "{\"conversationId\":\"$conversation\",\"text\":\"$label-$i\"}" || true)"
      case "$code" in 2??) break ;; esac
      tries=$((tries + 1))
      retries=$((retries + 1))
      [ "$tries" -lt 60 ] || { echo "gave up on $label-$i after $code" >"$work/$label.error"; break; }
      sleep 1
    done
  done
  echo "$retries" >"$work/$label.retries"
}
stored() { sql "select count(*) from messages where body like '$1-%'"; }
sent_rows() { sql "select count(*) from messages where body like '$1-%' and provider_message_id is not null"; }
all_sent() { [ "$(sent_rows "$1")" = "$2" ]; }
# Every message of burst $1 ($2 of them) sent once: each row has Meta's id, the emulator holds
# each body exactly once and no other message with the label.
exactly_once() {
  local label="$1" n="$2" counts
  [ ! -s "$work/$label.error" ] || fail "$(cat "$work/$label.error")"
  until_ok 300 "the $n messages of $label sent (each row has Meta's message id)" all_sent "$label" "$n"
  [ "$(stored "$label")" = "$n" ] || fail "$(stored "$label") rows for $label, want $n"
  counts="$(emulator_curl "/_emulator/sent?to=5511999990000" | json "(() => { const b = j.messages.map(m => m.request.text && m.request.text.body).filter(t => t && t.startsWith('$label-')); return b.length + ' ' + new Set(b).size; })()")"
  [ "$counts" = "$n $n" ] || fail "the emulator holds $label as '$counts' (sends, distinct), want '$n $n'"
  log "ok: $label: $n messages, each at the emulator exactly once ($(cat "$work/$label.retries") client retries)"
}
holder() { sql "select owner from sessions where name = 'sales'"; }
connected_elsewhere() {
  local row
  row="$(sql "select coalesce(owner, '') || ' ' || state from sessions where name = 'sales'")"
  [ "${row% *}" != "$1" ] && [ -n "${row% *}" ] && [ "${row#* }" = connected ]
}
ready_workers() { [ "$(kubectl -n "$ns" get deploy acme-worker -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }

# 1. A worker pod deleted (force, no grace) during a burst: its sessions are claimed again
# within the lease TTL (15 s) plus one renewal round (5 s); every message exactly once.
log "day-2: delete the worker holding the session during a burst of $burst_size"
login
old="$(holder)"
[ -n "$old" ] || fail "nobody holds the session 'sales'"
burst d1 "$burst_size" &
burst_pid=$!
until_ok 60 "the burst under way (20 messages stored)" sh -c "[ \"\$(psql '$tenant_db' -XAtqc \"select count(*) from messages where body like 'd1-%'\")\" -ge 20 ]"
t0=$SECONDS
kubectl -n "$ns" delete pod "$old" --grace-period=0 --force --wait=false >/dev/null 2>&1
until_ok 60 "the session connected on another worker" connected_elsewhere "$old"
reclaim=$((SECONDS - t0))
[ "$reclaim" -le 20 ] || fail "the session was claimed again after ${reclaim}s, want within the lease TTL + one round (20 s)"
wait "$burst_pid"
exactly_once d1 "$burst_size"
until_ok 180 "2 worker pods Ready again" ready_workers 2
record "worker pod deleted (no grace) during a burst of $burst_size: session connected on $(holder) after ${reclaim}s; $burst_size/$burst_size at the emulator exactly once, $(cat "$work/d1.retries") client retries"

# 2. kubectl scale wat/acme --replicas=3 during a burst: sessions spread, nothing lost or sent twice.
log "day-2: scale the workers to 3 during a burst"
login
burst d2 "$burst_size" &
burst_pid=$!
t0=$SECONDS
kubectl -n "$ns" scale wat/acme --replicas=3 >&2
until_ok 240 "3 worker pods Ready" ready_workers 3
scaled=$((SECONDS - t0))
wait "$burst_pid"
exactly_once d2 "$burst_size"
holders="$(sql "select count(distinct owner) || ' ' || count(*) from sessions where owner is not null")"
record "scale to 3 workers during a burst of $burst_size: 3 Ready after ${scaled}s; sessions held (distinct holders, sessions): $holders; $burst_size/$burst_size exactly once"
kubectl -n "$ns" scale wat/acme --replicas=2 >&2
until_ok 240 "back to 2 worker pods" sh -c "[ \"\$(kubectl -n $ns get pods -l app.kubernetes.io/component=worker --no-headers | wc -l)\" = 2 ]"

# 3. The API and worker images to a new tag (the same image retagged 0.1.1 in containerd): a
# new migration Job, then a rolling update; a client polling through the Ingress the whole time
# sees no failed request; a burst during the rollout arrives exactly once.
log "day-2: roll the API and workers to 0.1.1"
login
ctr_() { ctr --address "$cluster_dir/containerd/containerd.sock" -n k8s.io "$@"; }
for c in api worker; do
  ctr_ images tag --force "ghcr.io/switchboard/$c:$version" "ghcr.io/switchboard/$c:0.1.1" >/dev/null
done
# The polling client is a system of the tenant's with its own read-only API key: the limiter
# counts per credential, so the owner's burst beside it (200 sends) does not spend its budget.
poll_key="$(curl -s -H "Host: $host" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  http://127.0.0.1:18080/v1/api-keys -d '{"name":"e2e rollout poller","scopes":["read"]}' | json 'j.key')"
[ -n "$poll_key" ] || fail "could not create the poller's API key"
poll() {
  local ok=0 bad=0 code
  while [ ! -f "$work/poll.stop" ]; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $host" -H "x-api-key: $poll_key" \
      http://127.0.0.1:18080/v1/conversations || true)"
    if [ "$code" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "$code" >>"$work/poll.failures"; fi
    sleep 0.2
  done
  echo "$ok $bad" >"$work/poll.counts"
}
rm -f "$work/poll.stop" "$work/poll.failures"
poll &
poll_pid=$!
burst d3 "$burst_size" &
burst_pid=$!
t0=$SECONDS
kubectl -n "$ns" patch wat acme --type merge \
  -p '{"spec":{"images":{"api":"ghcr.io/switchboard/api:0.1.1","worker":"ghcr.io/switchboard/worker:0.1.1"}}}' >&2
until_ok 120 "the migration Job for 0.1.1 exists" sh -c "kubectl -n $ns get jobs -l app.kubernetes.io/component=migrations,app.kubernetes.io/version=0.1.1 -o name | grep -q ."
job="$(kubectl -n "$ns" get jobs -l app.kubernetes.io/component=migrations,app.kubernetes.io/version=0.1.1 -o name | head -n 1)"
kubectl -n "$ns" wait --for=condition=Complete "$job" --timeout=300s >&2 || fail "$job did not complete"
completed="$(kubectl -n "$ns" get "$job" -o jsonpath='{.status.completionTime}')"
rolled() {
  kubectl -n "$ns" rollout status deploy/acme-api --timeout=5s >/dev/null 2>&1 &&
    kubectl -n "$ns" rollout status deploy/acme-worker --timeout=5s >/dev/null 2>&1 &&
    [ "$(kubectl -n "$ns" get pods -l 'app.kubernetes.io/component in (api,worker)' -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | grep -vc ':0.1.1$')" = 0 ]
}
until_ok 300 "every API and worker pod runs 0.1.1, rollouts complete" rolled
rollout=$((SECONDS - t0))
for pod in $(kubectl -n "$ns" get pods -l 'app.kubernetes.io/component in (api,worker)' -o name); do
  created="$(kubectl -n "$ns" get "$pod" -o jsonpath='{.metadata.creationTimestamp}')"
  [[ "$created" > "$completed" || "$created" == "$completed" ]] || fail "$pod (0.1.1) created at $created, before $job completed ($completed)"
done
wait "$burst_pid"
exactly_once d3 "$burst_size"
touch "$work/poll.stop"
wait "$poll_pid"
read -r polled_ok polled_bad <"$work/poll.counts"
[ "$polled_bad" = 0 ] || fail "$polled_bad of $((polled_ok + polled_bad)) requests through the Ingress failed during the rollout: $(sort "$work/poll.failures" | uniq -c | tr '\n' ' ')"
record "image 0.1.0 -> 0.1.1: migration Job then rolling update, done in ${rollout}s; $polled_ok requests polled through the Ingress, 0 failed; $burst_size/$burst_size exactly once, $(cat "$work/d3.retries") client retries"

# 4. The Redis primary deleted during a burst: Sentinel promotes a replica, the services follow;
# requests that failed meanwhile are retried by the client with the same Idempotency-Key.
log "day-2: delete the Redis primary during a burst"
login
redis_role() { kubectl -n "$ns" exec "acme-redis-$1" -c redis -- env REDISCLI_AUTH="$redis_password" redis-cli --user admin --raw ROLE 2>/dev/null | head -n 1; }
old_primary=""
for i in 0 1 2; do [ "$(redis_role "$i")" = master ] && old_primary="acme-redis-$i"; done
[ -n "$old_primary" ] || fail "no Redis primary before the failover"
burst d4 "$burst_size" &
burst_pid=$!
until_ok 60 "the burst under way (20 messages stored)" sh -c "[ \"\$(psql '$tenant_db' -XAtqc \"select count(*) from messages where body like 'd4-%'\")\" -ge 20 ]"
# The node is cordoned first, so the StatefulSet's replacement pod stays Pending: otherwise it
# can be back (same name, same volume) before Sentinel's down-after period ends, and the
# Sentinels rightly keep it as the primary; the scenario is a primary that stays gone.
node="$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')"
kubectl cordon "$node" >/dev/null
t0=$SECONDS
kubectl -n "$ns" delete pod "$old_primary" --wait=false >/dev/null
sentinel_moved() {
  local a
  a="$(kubectl -n "$ns" exec acme-sentinel-0 -c sentinel -- env REDISCLI_AUTH="$redis_password" redis-cli --user admin --raw -p 26379 SENTINEL get-master-addr-by-name mymaster 2>/dev/null | head -n 1)"
  [ -n "$a" ] && case "$a" in "$old_primary".*) false ;; *) true ;; esac
}
until_ok 120 "the Sentinels promoted another primary" sentinel_moved
failover=$((SECONDS - t0))
kubectl uncordon "$node" >/dev/null
wait "$burst_pid"
exactly_once d4 "$burst_size"
until_ok 300 "3 Redis pods Ready again" sh -c "[ \"\$(kubectl -n $ns get sts acme-redis -o jsonpath='{.status.readyReplicas}')\" = 3 ]"
record "Redis primary $old_primary deleted during a burst of $burst_size: a new primary named by the Sentinels after ${failover}s; $burst_size/$burst_size exactly once, $(cat "$work/d4.retries") client retries"

# 5. Suspend, then resume: API and workers to zero, data kept; back to Ready, a message goes out once.
log "day-2: suspend and resume"
t0=$SECONDS
kubectl -n "$ns" patch wat acme --type merge -p '{"spec":{"suspend":true}}' >&2
until_ok 180 "no API or worker pod left" sh -c "[ -z \"\$(kubectl -n $ns get pods -l 'app.kubernetes.io/component in (api,worker)' -o name)\" ]"
until_ok 60 "kubectl get wat says Suspended" sh -c "kubectl -n $ns get wat acme --no-headers | grep -q Suspended"
suspended=$((SECONDS - t0))
kubectl -n "$ns" patch wat acme --type merge -p '{"spec":{"suspend":false}}' >&2
t0=$SECONDS
until_ok 300 "Ready, Workers 2/2 after resuming" sh -c "kubectl -n $ns get wat acme --no-headers | grep -E ' Ready +2/2 '"
until_ok 120 "GET /readyz through the Ingress answers 200" \
  sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: $host' http://127.0.0.1:18080/readyz)\" = 200 ]"
resumed=$((SECONDS - t0))
login
burst d5 10
exactly_once d5 10
record "suspend: API and workers gone in ${suspended}s; resume: Ready 2/2 in ${resumed}s; 10/10 messages after resuming exactly once; the conversation kept ($(sql "select count(*) from messages where conversation_id = '$conversation'") messages)"

# 6. A failed migration: the API image set to one that cannot run the migration (the Redis
# image under an API tag: no node). The Job fails, the running version keeps serving, the
# tenant is Degraded with the Job's reason; back to 0.1.1 it is Ready again.
log "day-2: a failed migration (an API image that cannot run)"
login
ctr_ images tag --force ghcr.io/switchboard/redis:7.0-bookworm ghcr.io/switchboard/api:0.1.2-broken >/dev/null
t0=$SECONDS
kubectl -n "$ns" patch wat acme --type merge -p '{"spec":{"images":{"api":"ghcr.io/switchboard/api:0.1.2-broken"}}}' >&2
until_ok 400 "kubectl get wat says Degraded" sh -c "kubectl -n $ns get wat acme --no-headers | grep -q Degraded"
degraded=$((SECONDS - t0))
reason="$(kubectl -n "$ns" get wat acme -o jsonpath='{.status.conditions[?(@.type=="Degraded")].reason}: {.status.conditions[?(@.type=="Degraded")].message}')"
log "Degraded: $reason"
[ "$(kubectl -n "$ns" get pods -l app.kubernetes.io/component=api -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort -u)" = "ghcr.io/switchboard/api:0.1.1" ] ||
  fail "API pods other than 0.1.1 exist while the migration failed"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" -H "authorization: Bearer $token" http://127.0.0.1:18080/v1/conversations)"
[ "$code" = 200 ] || fail "the running version does not serve while the migration failed: $code"
record "failed migration (API image that cannot run): Degraded after ${degraded}s ($reason); the 0.1.1 API pods kept serving (GET /v1/conversations 200)"
kubectl -n "$ns" patch wat acme --type merge -p '{"spec":{"images":{"api":"ghcr.io/switchboard/api:0.1.1"}}}' >&2
until_ok 300 "Ready again on 0.1.1" sh -c "kubectl -n $ns get wat acme --no-headers | grep -E ' Ready +2/2 '"

# 7. Delete the tenant: its children are garbage-collected, and deletionPolicy Delete drops the
# managed database.
log "day-2: delete the tenant"
dbname="$(node -e 'console.log(new URL(process.argv[1]).pathname.slice(1))' "$app_url")"
admin_db="$(node -e 'const u=new URL(process.argv[1]);u.pathname="/postgres";console.log(u.href)' "$tenant_db")"
t0=$SECONDS
kubectl -n "$ns" delete wat acme --wait=false >&2
until_ok 300 "the WhatsAppTenant is gone" sh -c "! kubectl -n $ns get wat acme >/dev/null 2>&1"
until_ok 300 "every child of the tenant garbage-collected" sh -c "[ -z \"\$(kubectl -n $ns get deploy,sts,svc,ingress,jobs,cm,pdb -l switchboard.dev/tenant=acme -o name 2>/dev/null)\" ]"
db_gone() { [ -z "$(psql "$admin_db" -XAtqc "select 1 from pg_database where datname = '$dbname'")" ]; }
until_ok 120 "the managed database $dbname dropped (deletionPolicy: Delete)" db_gone
deleted=$((SECONDS - t0))
record "tenant deleted: children garbage-collected and database $dbname dropped in ${deleted}s"

log "day-2 results:"
cat "$results" >&2

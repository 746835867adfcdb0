# shellcheck shell=bash
# What `make e2e` (test/e2e/run.sh) and the dev loop (`make dev`, the Tiltfile: scripts/dev/)
# both set up around the chart on the project's one-node cluster, as functions. Sourced, not
# run. The caller sets, before calling them:
#
#   node_ip        the node address (the cluster bridge's), 10.244.0.1
#   pg_port        the platform Postgres's port on node_ip
#   pg_bin         Debian's PostgreSQL 15 binaries
#   work           a folder of the caller's: $work/pg holds the platform Postgres
#   emulator_port  the dev loop's host Cloud API emulator's port on node_ip (emulator_start)
#   emulator_host  the in-cluster emulator's Ingress host, meta.e2e.test (make e2e)
#   ns             the tenants' namespace
# and defines log() and fail().

# The platform Postgres on the host: Debian's postgresql 15 run as nobody in $work/pg, listening
# on the node address only (pods reach it like any address outside the cluster; the
# NetworkPolicies allow it as a /32). Sets pg_password. Removes any earlier data in $work/pg.
platform_postgres_start() {
  platform_postgres_stop
  rm -rf "$work/pg"
  mkdir -p "$work/pg"
  chmod 0755 "$work"
  pg_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  printf '%s\n' "$pg_password" >"$work/pg/pwfile"
  chown -R nobody:nogroup "$work/pg"
  runuser -u nobody -- "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$work/pg/pwfile" >/dev/null
  rm -f "$work/pg/pwfile"
  printf 'host all all 10.244.0.0/16 scram-sha-256\n' >>"$work/pg/data/pg_hba.conf"
  runuser -u nobody -- "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-c listen_addresses=$node_ip -c port=$pg_port -c unix_socket_directories=$work/pg" start >/dev/null
  log "platform Postgres on $node_ip:$pg_port"
}

platform_postgres_stop() {
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    runuser -u nobody -- "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# The Cloud API emulator in the cluster, playing Meta (make e2e): test/e2e/emulator.yaml, its
# namespace `meta` with the Deployment, Service, Ingress (meta.e2e.test) and NetworkPolicies, and
# the two policies beside the tenant acme's; needs the namespace $ns. Its image is the one
# `images/build.sh cloud-api-emulator` builds, tagged with the root package.json's version.
emulator_deploy() {
  local version
  version="$(node -p 'require("./package.json").version')"
  grep -q "image: ghcr.io/switchboard/cloud-api-emulator:$version\$" test/e2e/emulator.yaml ||
    fail "test/e2e/emulator.yaml does not name the image ghcr.io/switchboard/cloud-api-emulator:$version"
  kubectl apply -f test/e2e/emulator.yaml >/dev/null
}

# Waits (bounded) for the in-cluster emulator's pod and for its control API through the Ingress.
emulator_wait() {
  kubectl -n meta rollout status deployment/cloud-api-emulator --timeout=120s >&2 ||
    fail "the Cloud API emulator's Deployment (namespace meta) did not become available"
  local deadline=$((SECONDS + 60))
  until [ "$(emulator_curl '/_emulator/sent?to=0' -o /dev/null -w '%{http_code}')" = 200 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the Cloud API emulator does not answer through the Ingress (Host: $emulator_host) within 60 s"
    sleep 1
  done
  log "Cloud API emulator in the cluster (meta/cloud-api-emulator), control API at http://$emulator_host/ through the Ingress"
}

# curl to the in-cluster emulator through the Ingress (Traefik on 127.0.0.1:18080, Host
# $emulator_host): `emulator_curl PATH [curl options]`, silent, the body on stdout.
emulator_curl() {
  local path="$1"
  shift
  curl -s -H "Host: $emulator_host" "$@" "http://127.0.0.1:18080$path"
}

# The dev loop's Cloud API emulator (scripts/dev/): on the host, on the node address, playing
# Meta (token, app secret and verify token as the tenant's cloud-api Secret holds them); its pid
# in $work/emulator.pid. `make e2e` runs the emulator in the cluster instead (emulator_deploy).
emulator_start() {
  node packages/cloud-api-emulator/src/cli.ts serve --token e2e-token --app-secret e2e-app-secret \
    --verify-token e2e-verify --host "$node_ip" --port "$emulator_port" --phone-number-id 109876543210987 \
    >"$work/emulator.log" 2>&1 &
  echo $! >"$work/emulator.pid"
}

# The chart's namespaces and the Secret platform-postgres holding the platform Postgres's admin
# URL (uses pg_password).
platform_namespaces_and_secret() {
  kubectl create namespace switchboard-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl -n switchboard-system create secret generic platform-postgres \
    --from-literal=url="postgres://postgres:$pg_password@$node_ip:$pg_port/postgres" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}

# Writes the chart's values for this cluster to $1: pull policy Never, the API server at the node
# address, Traefik (host network) as the ingress peer, CoreDNS's pod port, the host Postgres.
chart_values() {
  cat >"$1" <<VALUES
replicas: 1
image: { pullPolicy: Never }
platformPostgresSecret: platform-postgres
networkPolicy:
  # The kubernetes Service's endpoint: the API server on the node address.
  apiServer: [{ cidr: $node_ip/32 }]
  apiServerPorts: [16443]
tenantStack:
  images:
    redis: ghcr.io/switchboard/redis:7.0-bookworm
  imagePullPolicy: Never
  network:
    # Traefik runs on the host network: its connections to pods come from the node address.
    ingressController: [{ cidr: $node_ip/32 }]
    dnsPorts: [1053]
    postgres:
      peers: [{ cidr: $node_ip/32 }]
      port: $pg_port
VALUES
}

# Storage for Redis (no provisioner on this cluster): $1 hostPath PersistentVolumes of class
# e2e-local under $work/pv, named $2-0, $2-1, ... (default name prefix e2e-redis).
redis_volumes() {
  local count="$1" prefix="${2:-e2e-redis}" i dir
  for ((i = 0; i < count; i++)); do
    dir="$work/pv/$i"
    mkdir -p "$dir"
    chmod 0777 "$dir"
    kubectl apply -f - >/dev/null <<PV
apiVersion: v1
kind: PersistentVolume
metadata: { name: $prefix-$i, labels: { switchboard.dev/e2e: "true" } }
spec:
  capacity: { storage: 256Mi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: e2e-local
  hostPath: { path: $dir, type: Directory }
PV
  done
}

# The cloud-api session's Secret $1 in $ns: the emulator's credentials (test/e2e/emulator.yaml's
# Secret holds the same).
cloud_api_secret() {
  kubectl -n "$ns" create secret generic "$1" --from-literal=accessToken=e2e-token \
    --from-literal=appSecret=e2e-app-secret --from-literal=verifyToken=e2e-verify \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}

# The dev loop's (scripts/dev/): the cloud-api session's Secret $1, and a NetworkPolicy $3
# (default e2e-cloud-api-emulator) letting tenant $2's workers reach the emulator on the host:
# the tenant's own policies allow only the internet (no private range), so the platform team
# adds this one beside them.
emulator_access() {
  local secret="$1" tenant="$2" policy="${3:-e2e-cloud-api-emulator}"
  cloud_api_secret "$secret"
  kubectl apply -f - >/dev/null <<POLICY
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: $policy, namespace: $ns }
spec:
  podSelector:
    matchLabels: { switchboard.dev/tenant: $tenant, app.kubernetes.io/component: worker }
  policyTypes: [Egress]
  egress:
    - to: [{ ipBlock: { cidr: $node_ip/32 } }]
      ports: [{ port: $emulator_port, protocol: TCP }]
POLICY
}

# shellcheck shell=bash
# Sourced by the dev loop's scripts (scripts/dev/*.sh; `make dev`, `make tilt-*`): the toolchain,
# kubectl and helm (packages/envtest's builds), the cluster's kubeconfig, and where the dev
# platform lives. Its ports differ from the e2e run's (test/e2e/run.sh), so a dev platform left
# running never collides with `make e2e`'s.
[ -n "${CONTAINERS_CONF:-}" ] || . scripts/toolchain.sh >&2
dev_started=$SECONDS
log() { printf '[dev %4ds] %s\n' "$((SECONDS - dev_started))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

bin="${SWITCHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard}/envtest/1.35.4/bin"
[ -x "$bin/helm" ] && [ -x "$bin/kubectl" ] || make --no-print-directory envtest-binaries >&2
export PATH="$bin:$PATH"
export KUBECONFIG="${SWITCHBOARD_CLUSTER_DIR:-${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}/cluster}/kubeconfig"

# What test/e2e/lib/platform.sh reads.
node_ip=10.244.0.1
pg_port=15433
pg_bin=/usr/lib/postgresql/15/bin
work=/tmp/switchboard-dev
emulator_port=18091
ns=tenants
# The dev tenant (scripts/dev/tenant.yaml) and its owner.
tenant=dev
host=dev.switchboard.test
owner_email=owner@dev.switchboard.test
owner_password=switchboard-dev
values="$PWD/.build/dev/values.yaml"
. test/e2e/lib/platform.sh

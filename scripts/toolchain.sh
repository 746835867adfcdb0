#!/usr/bin/env bash
# Sourced by the Makefile's recipes and by .ci/run: makes sure this machine has what the
# build and the tests need, installing only what is missing, then puts Node 24 first on PATH.
#
#   - Debian packages: redis-server and redis-sentinel (tests start their own servers on
#     loopback ports; the Debian service is never used), chromium (the inbox's browser tests
#     drive it with playwright-core; nothing is downloaded), prometheus (for promtool).
#   - Debian packages for images and the one-node cluster (images/, packages/cluster):
#     podman (builds and pushes images; no Docker daemon), mmdebstrap (the base image's Debian
#     rootfs), containerd and runc (the cluster's container runtime), containernetworking-plugins
#     (bridge, host-local, loopback, portmap in /usr/lib/cni), iptables, conntrack and ipset
#     (kube-proxy, CNI, the NetworkPolicy controller), gcc and libc6-dev (the static pause
#     binary). podman reads the project's own images/containers.conf (CONTAINERS_CONF), never /etc.
#   - postgresql-15 (Debian): `make e2e` runs the platform Postgres on the host from its binaries
#     (/usr/lib/postgresql/15/bin: initdb, pg_ctl) in its own folder; the cluster Debian's package
#     creates is never used. The unit and integration tests use embedded-postgres from npm.
#   - moto (a local S3, for media storage tests) from PyPI in a venv under $SWITCHBOARD_CACHE.
#   - schemathesis (the API's OpenAPI fuzz test) from PyPI in a venv under $SWITCHBOARD_CACHE.
#   - Node 24 LTS from the npm registry's node-linux-<arch> package (the machine's PATH has
#     Node 20, which is past end of life), cached under $SWITCHBOARD_CACHE.
#   - npm ci, re-run only when package-lock.json changed since the last install.
set -euo pipefail

SWITCHBOARD_NODE_VERSION="${SWITCHBOARD_NODE_VERSION:-24.21.0}"
SWITCHBOARD_CACHE="${SWITCHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard}"
export SWITCHBOARD_CACHE

toolchain_log() { printf '[toolchain] %s\n' "$*" >&2; }

toolchain_apt() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # promtool (`promtool check rules` over the chart's alerts in test/observability).
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  command -v conntrack >/dev/null 2>&1 || missing+=(conntrack)
  command -v ipset >/dev/null 2>&1 || missing+=(ipset)
  command -v gcc >/dev/null 2>&1 || missing+=(gcc)
  [ -f /usr/include/stdio.h ] || missing+=(libc6-dev)
  [ -x /usr/lib/postgresql/15/bin/pg_ctl ] || missing+=(postgresql-15)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    toolchain_log "missing Debian packages: ${missing[*]} (install them, or run as root)"
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  toolchain_log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

SWITCHBOARD_MOTO_VERSION="${SWITCHBOARD_MOTO_VERSION:-5.2.1}"

# moto's S3 server in its own venv (the system Python may be externally managed); tests find
# it through SWITCHBOARD_MOTO_SERVER.
toolchain_moto() {
  local dir="$SWITCHBOARD_CACHE/moto-$SWITCHBOARD_MOTO_VERSION"
  if [ ! -x "$dir/bin/moto_server" ]; then
    toolchain_log "installing moto $SWITCHBOARD_MOTO_VERSION into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$SWITCHBOARD_MOTO_VERSION" >/dev/null
  fi
  export SWITCHBOARD_MOTO_SERVER="$dir/bin/moto_server"
}

SWITCHBOARD_SCHEMATHESIS_VERSION="${SWITCHBOARD_SCHEMATHESIS_VERSION:-4.32.5}"

# schemathesis in its own venv; services/api/src/openapi-fuzz.test.ts finds it through
# SWITCHBOARD_SCHEMATHESIS.
toolchain_schemathesis() {
  local dir="$SWITCHBOARD_CACHE/schemathesis-$SWITCHBOARD_SCHEMATHESIS_VERSION"
  if [ ! -x "$dir/bin/schemathesis" ]; then
    toolchain_log "installing schemathesis $SWITCHBOARD_SCHEMATHESIS_VERSION into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SWITCHBOARD_SCHEMATHESIS_VERSION" >/dev/null
  fi
  export SWITCHBOARD_SCHEMATHESIS="$dir/bin/schemathesis"
}

toolchain_node() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) toolchain_log "unsupported architecture $(uname -m)"; return 1 ;;
  esac
  local dir="$SWITCHBOARD_CACHE/node-$SWITCHBOARD_NODE_VERSION"
  local bin="$dir/node_modules/node-linux-$arch/bin"
  if [ ! -x "$bin/node" ]; then
    toolchain_log "installing Node $SWITCHBOARD_NODE_VERSION into $dir"
    mkdir -p "$dir"
    npm install --silent --no-save --no-audit --no-fund --prefix "$dir" "node-linux-$arch@$SWITCHBOARD_NODE_VERSION" >/dev/null
  fi
  export PATH="$bin:$PATH"
  [ "$(node --version)" = "v$SWITCHBOARD_NODE_VERSION" ] || { toolchain_log "node on PATH is $(node --version)"; return 1; }
}

toolchain_npm() {
  local root stamp want
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  stamp="$root/node_modules/.switchboard-lock-hash"
  want="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)-$(node --version)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    toolchain_log "npm ci"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

# podman with the settings this machine needs (runc, cgroupfs, no default ulimits: the sandbox
# cannot raise RLIMIT_NOFILE); a caller's own CONTAINERS_CONF wins.
toolchain_podman() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/images/containers.conf}"
}

toolchain_apt
toolchain_podman
toolchain_moto
toolchain_schemathesis
toolchain_node
toolchain_npm

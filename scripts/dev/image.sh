#!/usr/bin/env bash
# Builds one dev image and imports it into the one-node cluster's containerd (the dev loop:
# `make dev` and the Tiltfile's custom_build).
#
#   scripts/dev/image.sh <operator|api|worker> [<image ref>]
#
# The ref defaults to $EXPECTED_REF (what Tilt's custom_build asks for), else
# localhost/switchboard/<component>-dev:dev. scripts/dev/Containerfile says what a dev image is.
#
# 1. The product image underneath, built by images/build.sh (what `make images` runs) as
#    localhost/switchboard/dev-base/<component>:<version> (REGISTRY=localhost/switchboard/dev-base,
#    so the product's own tags in podman are left alone; the archives build.sh leaves in
#    .build/images are removed, so cluster-up does not import them), only when podman has none or
#    its /app/package-lock.json differs from the working tree's: the dev layer brings the sources,
#    so only a dependency change needs the slow build (npm ci --omit=dev, pruning).
# 2. The dev layer's context in .build/dev/<component>/: Debian's busybox-static (downloaded
#    with apt-get once, kept in $SWITCHBOARD_CACHE/devloop/), the supervisor and overlay hooks of
#    packages/devloop/src/container, and the workspaces' sources as in the working tree (no tests).
# 3. podman build, podman save, ctr import into the cluster (`node packages/devloop/src/cli.ts
#    import`: packages/cluster's importImages); podman's older tags of the dev image are removed.
#
# Needs root (podman's storage, the cluster's containerd) and the cluster running. One build at a
# time (a lock in .build/dev): images/build.sh stages every component in one folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
[ -n "${CONTAINERS_CONF:-}" ] || . scripts/toolchain.sh >&2

log() { printf '[dev-image] %s\n' "$*" >&2; }
fail() { log "$*"; exit 1; }

component="${1:-}"
case "$component" in
  operator) main=operator/src/server.ts ;;
  api) main=services/api/src/server.ts ;;
  worker) main=services/worker/src/server.ts ;;
  *) fail "usage: scripts/dev/image.sh <operator|api|worker> [<image ref>]" ;;
esac
ref="${2:-${EXPECTED_REF:-localhost/switchboard/$component-dev:dev}}"
repository="${ref%:*}"
version="$(node -p 'require("./package.json").version')"
base_registry=localhost/switchboard/dev-base
base="$base_registry/$component:$version"
dev="$root/.build/dev"
cache="${SWITCHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard}/devloop"
mkdir -p "$dev" "$cache"
started=$SECONDS

exec 9>"$dev/build.lock"
flock 9

# 1. The product image underneath.
base_lockfile_matches() {
  local container tmp ok=1
  podman image exists "$base" || return 1
  tmp="$(mktemp)"
  container="$(podman create --quiet --pull=never "$base")" || { rm -f "$tmp"; return 1; }
  if podman cp "$container:/app/package-lock.json" "$tmp" >/dev/null 2>&1 && cmp -s "$tmp" package-lock.json; then ok=0; fi
  podman rm --force "$container" >/dev/null
  rm -f "$tmp"
  return "$ok"
}
if ! base_lockfile_matches; then
  log "$base is missing or was built from another package-lock.json: images/build.sh $component"
  REGISTRY="$base_registry" TAG="$version" PUSH=0 images/build.sh "$component" >&2
  rm -f ".build/images/$component.oci.tar"
fi

# 2. The context.
busybox="$cache/busybox"
if [ ! -x "$busybox" ]; then
  log "downloading Debian's busybox-static (apt-get download)"
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download -q busybox-static >/dev/null 2>&1); then
    apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download -q busybox-static >/dev/null)
  fi
  dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/bin/busybox" "$busybox.partial"
  mv "$busybox.partial" "$busybox"
  rm -rf "$tmp"
fi
context="$dev/$component"
rm -rf "$context"
mkdir -p "$context/bin" "$context/devloop" "$context/app"
cp "$busybox" "$context/bin/busybox"
for tool in sh tar rm mkdir ls cat kill ps; do ln -s busybox "$context/bin/$tool"; done
cp packages/devloop/src/container/{supervisor,overlay-hooks,watch-tree}.ts "$context/devloop/"
# The workspaces' sources and manifests as in the working tree (uncommitted edits too), without
# tests and without the inbox's sources (the API serves its build).
git ls-files -z --cached --others --exclude-standard -- packages services operator |
  tr '\0' '\n' |
  grep -E '(/src/|/package\.json$)' |
  grep -Ev '(\.test\.ts$|/test/|/fixtures/|^services/inbox/)' |
  while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done |
  tar -cf - -T - | tar -xf - -C "$context/app"

# 3. Build, import.
podman build --quiet --file scripts/dev/Containerfile --build-arg "BASE=$base" --build-arg "MAIN=$main" \
  --network none --pull=never --tag "$ref" "$context" >/dev/null
archive="$dev/.$component.oci.tar"
rm -f "$archive"
podman save --quiet --format oci-archive --output "$archive" "$ref"
node packages/devloop/src/cli.ts import "$archive" >&2
rm -f "$archive"
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repository"); do
  [ "$old" = "$ref" ] || podman rmi --force "$old" >/dev/null 2>&1 || true
done
log "$ref ($component) built and imported in $((SECONDS - started)) s"

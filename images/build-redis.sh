#!/usr/bin/env bash
# Builds the Redis/Sentinel image the operator's tenant Redis and Sentinel StatefulSets run
# (the chart's operator.images.redis), from Debian bookworm's redis packages, without Docker
# and without any registry: mmdebstrap's essential set (dash for `sh`, coreutils for `timeout`
# and `head`, which the start and readiness scripts in operator/src/specs/redis-scripts.ts use)
# plus redis-server, redis-sentinel and redis-tools, imported with podman and saved as
# .build/images/redis.oci.tar (which `make cluster-up` imports).
#
#   images/build-redis.sh        REGISTRY (default ghcr.io/switchboard), TAG (default 7.0-bookworm)
#
# Cached under $SWITCHBOARD_CACHE/images by the recipe's hash; runs as root (mmdebstrap, podman).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[images] %s\n' "$*" >&2; }

REGISTRY="${REGISTRY:-ghcr.io/switchboard}"
REGISTRY="${REGISTRY%/}"
TAG="${REDIS_TAG:-7.0-bookworm}"
IMAGE="$REGISTRY/redis:$TAG"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
cache="${SWITCHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard}/images"
out="$PWD/.build/images"
mkdir -p "$cache" "$out"

recipe() {
  cat <<'RECIPE'
mmdebstrap --variant=essential --include=redis-server,redis-sentinel,redis-tools bookworm
user redis 999 from the packages; /data 0777 for the pod's fsGroup-owned volume; repacked sorted at SOURCE_DATE_EPOCH
RECIPE
}
key="$(recipe | sha256sum | cut -c1-16)"
rootfs="$cache/redis-bookworm-$key.tar"

if [ ! -s "$rootfs" ]; then
  log "making the Redis rootfs from Debian bookworm's redis packages"
  started=$SECONDS
  rm -f "$cache"/redis-bookworm-*.tar
  work="$(mktemp -d "$cache/.redis-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  mmdebstrap --quiet --format=tar --variant=essential --include=redis-server,redis-sentinel,redis-tools \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$work/full.tar"
  mkdir "$work/root"
  tar -C "$work/root" -xf "$work/full.tar"
  r="$work/root"
  rm -rf "$r/var/cache/apt" "$r/var/lib/apt/lists"
  mkdir -p "$r/data"
  chmod 0777 "$r/data"
  tar -C "$r" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$rootfs.partial" .
  mv "$rootfs.partial" "$rootfs"
  rm -rf "$work"
  trap - EXIT
  log "redis rootfs in $((SECONDS - started)) s ($(du -h "$rootfs" | cut -f1))"
fi
if [ "$(podman image inspect --format '{{index .Labels "switchboard.redis.recipe"}}' "$IMAGE" 2>/dev/null)" != "$key" ]; then
  podman import --quiet \
    --change "LABEL switchboard.redis.recipe=$key" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'USER 999:999' \
    --change 'WORKDIR /data' \
    "$rootfs" "$IMAGE" >/dev/null
  rm -f "$out/redis.oci.tar"
fi
if [ ! -s "$out/redis.oci.tar" ]; then
  podman save --quiet --format oci-archive -o "$out/redis.oci.tar.partial" "$IMAGE"
  mv "$out/redis.oci.tar.partial" "$out/redis.oci.tar"
fi
log "$IMAGE -> $out/redis.oci.tar"

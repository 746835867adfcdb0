#!/usr/bin/env bash
# Builds the operator, API and worker images without Docker and without any registry (make images).
#
#   images/build.sh [operator|api|worker|cloud-api-emulator ...]   default: operator api worker
#
# cloud-api-emulator (packages/cloud-api-emulator playing Meta in the e2e run's cluster,
# test/e2e/emulator.yaml) is built the same way when named; it is not a product image, so
# neither the default set nor a release (PUSH=1) includes it unless named.
#
# Environment:
#   REGISTRY   repository prefix, default ghcr.io/switchboard (what the chart's values.yaml names)
#   TAG        image tag, default the root package.json version (the chart's appVersion)
#   PUSH=1     push each image to $REGISTRY with podman after building it
#
# 1. The base: a Debian bookworm rootfs made by mmdebstrap from Debian's packages (essential set
#    plus ca-certificates, tzdata and the C++ runtime Node needs), cut down to what Node needs at
#    run time (C/C++ runtime, CA bundle, zoneinfo, a `nonroot` user 65532; no shell, no package
#    manager), imported as localhost/switchboard/base:bookworm.
#    It is cached under $SWITCHBOARD_CACHE/images and rebuilt only when this recipe changes.
# 2. Per component, a staged tree under .build/images/stage/<component>: the workspace sources
#    (no tests) with production node_modules (one `npm ci --omit=dev`, hard-linked into each
#    tree), the workspaces it does not import removed and node_modules pruned to the packages
#    its workspaces reach; the API also gets the built inbox. Plus the Node 24 binary.
# 3. `podman build --target <component>` with the root Containerfile (the context is filtered by
#    .containerignore to the staged tree), OCI labels, and every layer timestamp and the image's
#    creation time set to SOURCE_DATE_EPOCH (the last commit's time), so rebuilding the same
#    commit gives the same layers.
# 4. Each image is kept in podman's local storage and saved as an OCI archive in .build/images/.
# 5. Skipped when nothing it is made of changed: the inputs' hash (every staged workspace file's
#    content in the workspaces the component reaches, package-lock.json, the Containerfile, this
#    script, the Node version, the base's recipe, the image name) and the image id are written to
#    .build/images/<component>.inputs beside the archive; when the hash is the same and the
#    archive still holds that image id, the archive is reused as it is (its revision label then
#    names the commit that built it). Nothing is read from podman's storage, which every
#    checkout on the machine shares (another one may tag the same name). A warm CI run, or the
#    e2e run after the cluster tests, rebuilds nothing unchanged. PUSH=1 (a release) and
#    IMAGES_REBUILD=1 always build. (A label would not do: podman's layer cache returns an
#    earlier image with the same layers whatever --label says.)
#
# Expects scripts/toolchain.sh to have been sourced (Node 24 on PATH, CONTAINERS_CONF set).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

log() { printf '[images] %s\n' "$*" >&2; }

REGISTRY="${REGISTRY:-ghcr.io/switchboard}"
REGISTRY="${REGISTRY%/}"
TAG="${TAG:-$(node -p 'require("./package.json").version')}"
PUSH="${PUSH:-0}"
components=("$@")
[ "${#components[@]}" -eq 0 ] && components=(operator api worker)
for c in "${components[@]}"; do
  case "$c" in
    operator | api | worker | cloud-api-emulator) ;;
    *) log "unknown component '$c' (operator, api, worker or cloud-api-emulator)"; exit 2 ;;
  esac
done

for tool in podman mmdebstrap node npm git; do
  command -v "$tool" >/dev/null || { log "$tool is not installed (make install installs what images need)"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { log "mmdebstrap and podman's storage here need root; run as root"; exit 1; }

SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH
revision="$(git rev-parse HEAD)"
git diff --quiet HEAD -- packages services operator package.json package-lock.json || revision="$revision-dirty"
source_url="${SOURCE_URL:-https://github.com/switchboard/switchboard}"

cache="${SWITCHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard}/images"
build="$root/.build/images"
stage="$build/stage"
mkdir -p "$cache" "$build"

# ---------------------------------------------------------------------------------------------
# 1. The base image.
BASE_IMAGE=localhost/switchboard/base:bookworm
base_recipe() {
  # Everything that decides the base's content; its hash names the cached rootfs.
  cat <<'RECIPE'
mmdebstrap --variant=essential --include=ca-certificates,tzdata,libstdc++6 bookworm
extract only: the C and C++ runtime node links against, CA bundle, zoneinfo; passwd/group with nonroot 65532, /tmp 1777; repacked sorted at SOURCE_DATE_EPOCH
RECIPE
}
base_key="$(base_recipe | sha256sum | cut -c1-16)"
base_tar="$cache/base-bookworm-$base_key.tar"

# mmdebstrap installs and configures Debian's packages normally (update-ca-certificates builds
# the bundle); then only what a Node process needs at run time is taken out of its tarball: no
# shell, no package manager, no coreutils. Node bundles OpenSSL and ICU; it needs libc, libm,
# libdl, libpthread, libgcc_s and libstdc++ (glibc 2.36 has the files and dns NSS modules
# built in). The result is re-packed with sorted names, SOURCE_DATE_EPOCH times and numeric
# owners, so the same packages give the same tarball.
if [ ! -s "$base_tar" ]; then
  log "making the Debian bookworm base rootfs with mmdebstrap (about a minute)"
  started=$SECONDS
  rm -f "$cache"/base-bookworm-*.tar
  work="$(mktemp -d "$cache/.base-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  mmdebstrap --quiet --format=tar --variant=essential --include=ca-certificates,tzdata,libstdc++6 \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$work/full.tar"
  mkdir "$work/root"
  tar -C "$work/root" -xf "$work/full.tar" --wildcards \
    './etc/ssl/certs/ca-certificates.crt' './usr/share/zoneinfo/*' './etc/nsswitch.conf' './etc/host.conf' \
    './etc/localtime' './etc/timezone' './bin' './lib' './lib64' './sbin' './usr/lib64' \
    './usr/lib/*-linux-gnu/libc.so.6' './usr/lib/*-linux-gnu/libm.so.6' './usr/lib/*-linux-gnu/libdl.so.2' \
    './usr/lib/*-linux-gnu/libpthread.so.0' './usr/lib/*-linux-gnu/libgcc_s.so.1' \
    './usr/lib/*-linux-gnu/libstdc++.so.6*' './usr/lib/*-linux-gnu/ld-linux-*.so.*'
  r="$work/root"
  rm -rf "$r/usr/share/zoneinfo/right" "$r/usr/share/zoneinfo/posix"
  mkdir -p "$r/tmp" "$r/var/tmp" "$r/home/nonroot" "$r/usr/local/bin" "$r/usr/bin" "$r/usr/sbin" "$r/etc"
  chmod 1777 "$r/tmp" "$r/var/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$r/etc/group"
  chown 65532:65532 "$r/home/nonroot"
  tar -C "$r" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$base_tar.partial" .
  mv "$base_tar.partial" "$base_tar"
  rm -rf "$work"
  trap - EXIT
  log "base rootfs in $((SECONDS - started)) s: $base_tar ($(du -h "$base_tar" | cut -f1))"
fi
if [ "$(podman image inspect --format '{{index .Labels "switchboard.base.recipe"}}' "$BASE_IMAGE" 2>/dev/null)" != "$base_key" ]; then
  log "importing the base image as $BASE_IMAGE"
  podman import --quiet \
    --change "LABEL switchboard.base.recipe=$base_key" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'USER 65532:65532' \
    "$base_tar" "$BASE_IMAGE" >/dev/null
fi

# Tracked files of the workspaces (the working tree's content, so uncommitted edits are built),
# without tests, fixtures and benchmarks.
workspace_files() {
  git ls-files -z --cached --others --exclude-standard -- package.json package-lock.json packages services operator |
    tr '\0' '\n' |
    grep -Ev '(\.test\.ts$|/test/|/tests/|/fixtures/|/__fixtures__/|/bench/|/Dockerfile$|\.md$)' |
    while IFS= read -r f; do [ -f "$f" ] && printf '%s\0' "$f"; done
}

# ---------------------------------------------------------------------------------------------
# 5. Reuse: the hash of everything an image is made of (see the header), per component.
# The folders of the workspaces `$1` (a package name) reaches through its dependencies.
workspace_dirs() {
  node - "$1" <<'NODE'
const fs = require('node:fs');
const path = require('node:path');
const root = JSON.parse(fs.readFileSync('package.json', 'utf8'));
const dirs = new Map();
for (const pattern of root.workspaces) {
  const base = pattern.replace(/\/\*$/, '');
  if (!fs.existsSync(base)) continue;
  for (const d of pattern.endsWith('/*') ? fs.readdirSync(base).map((x) => path.join(base, x)) : [base]) {
    const file = path.join(d, 'package.json');
    if (fs.existsSync(file)) dirs.set(JSON.parse(fs.readFileSync(file, 'utf8')).name, d);
  }
}
const seen = new Set();
const visit = (name) => {
  if (seen.has(name) || !dirs.has(name)) return;
  seen.add(name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dirs.get(name), 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep);
};
visit(process.argv[2]);
console.log([...seen].map((n) => dirs.get(n)).sort().join('\n'));
NODE
}
# Component `$1`, image `$2`: the staged files of the workspaces it keeps (the API also serves
# the inbox), the lockfile, the recipe, Node and the base.
inputs_hash() {
  local dirs
  dirs="$(workspace_dirs "${package_of[$1]}")"
  [ "$1" = api ] && dirs="$dirs"$'\n'services/inbox
  {
    workspace_files | tr '\0' '\n' | grep -E "^(package.json|package-lock.json|($(printf '%s' "$dirs" | paste -sd'|'))/.*)$" |
      tr '\n' '\0' | xargs -0 sha256sum
    sha256sum Containerfile .containerignore images/build.sh
    printf 'node %s\nbase %s\nimage %s\n' "$(node --version)" "$base_key" "$2"
  } | sha256sum | cut -c1-32
}
# The image id (config digest, hex) in an OCI archive (index -> manifest -> config), read from
# the archive itself: podman's storage is shared by every checkout on the machine.
archive_config() {
  local manifest
  manifest="$(tar -xOf "$1" index.json 2>/dev/null | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).manifests[0].digest.replace(":", "/")' 2>/dev/null)" || return 0
  tar -xOf "$1" "blobs/$manifest" 2>/dev/null | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).config.digest.split(":")[1]' 2>/dev/null || true
}
declare -A package_of=([operator]=@switchboard/operator [api]=@switchboard/api [worker]=@switchboard/worker
  [cloud-api-emulator]=@switchboard/cloud-api-emulator)
wanted=()
declare -A inputs_of=()
if [ "$PUSH" != 1 ] && [ "${IMAGES_REBUILD:-0}" != 1 ]; then
  for c in "${components[@]}"; do
    image="$REGISTRY/$c:$TAG"
    inputs_of[$c]="$(inputs_hash "$c" "$image")"
    if [ -s "$build/$c.oci.tar" ] && [ -s "$build/$c.inputs" ] &&
      [ "$(cat "$build/$c.inputs")" = "${inputs_of[$c]} $(archive_config "$build/$c.oci.tar")" ]; then
      log "$c: inputs unchanged (${inputs_of[$c]:0:12}), reusing $image and ${build#"$root/"}/$c.oci.tar"
    else
      wanted+=("$c")
    fi
  done
  if [ "${#wanted[@]}" -eq 0 ]; then
    log "OCI archives in ${build#"$root/"}/ (nothing to rebuild)"
    exit 0
  fi
  components=("${wanted[@]}")
fi

# ---------------------------------------------------------------------------------------------
# 2. The staged trees.
rm -rf "$stage"
mkdir -p "$stage"
node_bin="$(command -v node)"
[ "$(node --version)" = "v${SWITCHBOARD_NODE_VERSION:-$(node --version | cut -c2-)}" ] || true
install -m 0755 "$node_bin" "$stage/node"

if printf '%s\n' "${components[@]}" | grep -qx api; then
  log "building the inbox (served by the API)"
  npm run --silent build -w @switchboard/inbox >/dev/null
fi

# One `npm ci --omit=dev` for all components (it installs the whole lockfile whatever
# --workspace says); each component's tree is a hard-linked copy of it, pruned below.
common="$stage/.common"
mkdir -p "$common"
workspace_files | tar --null -T - -cf - | tar -xf - -C "$common"
log "npm ci --omit=dev"
(cd "$common" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

for c in "${components[@]}"; do
  dir="$stage/$c"
  cp -al "$common" "$dir"
  # Remove the workspaces this component does not import, and the links to them.
  node - "$dir" "${package_of[$c]}" <<'NODE'
const fs = require('node:fs');
const path = require('node:path');
const [dir, main] = process.argv.slice(2);
const root = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const workspaces = new Map();
for (const pattern of root.workspaces) {
  const base = pattern.replace(/\/\*$/, '');
  if (!fs.existsSync(path.join(dir, base))) continue;
  const dirs = pattern.endsWith('/*') ? fs.readdirSync(path.join(dir, base)).map((d) => path.join(base, d)) : [base];
  for (const d of dirs) {
    const file = path.join(dir, d, 'package.json');
    if (fs.existsSync(file)) workspaces.set(JSON.parse(fs.readFileSync(file, 'utf8')).name, d);
  }
}
const keep = new Set();
const visit = (name) => {
  if (keep.has(name) || !workspaces.has(name)) return;
  keep.add(name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, workspaces.get(name), 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep);
};
visit(main);
for (const [name, d] of workspaces) {
  if (keep.has(name)) continue;
  fs.rmSync(path.join(dir, d), { recursive: true, force: true });
  fs.rmSync(path.join(dir, 'node_modules', name), { recursive: true, force: true });
}
// npm ci installs the whole lockfile whatever --workspace says, so keep only the packages the
// kept workspaces need at run time: walk package-lock.json from their dependencies (plus
// optional and non-optional peer dependencies) with Node's resolution (nearest node_modules upwards) and
// delete every installed package the walk does not reach.
const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8')).packages;
const needed = new Set();
const resolve = (from, dep) => {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${dep}` : `node_modules/${dep}`;
    if (lock[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut >= 0 ? base.slice(0, cut) : '';
  }
};
const visitPackage = (key) => {
  if (needed.has(key)) return;
  needed.add(key);
  let entry = lock[key];
  let at = key;
  if (entry?.link) {
    at = entry.resolved;
    needed.add(at);
    entry = lock[at];
  }
  if (!entry) return;
  const peers = Object.keys(entry.peerDependencies ?? {}).filter((p) => !entry.peerDependenciesMeta?.[p]?.optional);
  const deps = [...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }), ...peers];
  for (const dep of deps) {
    const found = resolve(at, dep);
    if (found) visitPackage(found);
  }
};
for (const name of keep) visitPackage(workspaces.get(name));
let removedPackages = 0;
for (const key of Object.keys(lock).sort()) {
  if (!key.includes('node_modules/') || needed.has(key)) continue;
  const target = path.join(dir, key);
  if (fs.existsSync(target)) {
    fs.rmSync(target, { recursive: true, force: true });
    removedPackages++;
  }
}
// Nothing reads the lockfile's copy or the .bin links at run time.
fs.rmSync(path.join(dir, 'node_modules', '.package-lock.json'), { force: true });
fs.rmSync(path.join(dir, 'node_modules', '.bin'), { recursive: true, force: true });
console.error(`[images] ${main}: ${needed.size} packages kept, ${removedPackages} unused removed`);
console.error(`[images] ${main}: workspaces ${[...keep].sort().join(', ')}`);
NODE
  find "$dir" -type d -empty -delete
  if [ "$c" = api ]; then
    mkdir -p "$dir/services/inbox"
    cp -r services/inbox/dist "$dir/services/inbox/dist"
  fi
done

# ---------------------------------------------------------------------------------------------
rm -rf "$common"

# 3 and 4. Build, save, push.
sizes=()
for c in "${components[@]}"; do
  image="$REGISTRY/$c:$TAG"
  log "$c: podman build -> $image"
  started=$SECONDS
  podman build --quiet --file Containerfile --target "$c" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "COMPONENT=$c" \
    --build-arg "VERSION=$TAG" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url" \
    --timestamp "$SOURCE_DATE_EPOCH" --network none --pull=never \
    --iidfile "$build/.$c.iid" --tag "$image" . >/dev/null
  # Written beside and renamed, so cluster-up never imports half an archive. podman's storage is
  # shared by every checkout on the machine: another build may tag the same name between this
  # build and the save, so the name is set to this build's image id again and the archive's
  # image checked to be this build's.
  iid="$(cut -d: -f2 <"$build/.$c.iid")"
  rm -f "$build/$c.oci.tar" "$build/.$c.oci.tar" "$build/.$c.iid"
  for try in 1 2 3; do
    podman tag "$iid" "$image"
    podman save --quiet --format oci-archive --output "$build/.$c.oci.tar" "$image"
    [ "$(archive_config "$build/.$c.oci.tar")" = "$iid" ] && break
    rm -f "$build/.$c.oci.tar"
    [ "$try" -lt 3 ] || { log "$c: another build kept re-tagging $image; giving up"; exit 1; }
  done
  mv "$build/.$c.oci.tar" "$build/$c.oci.tar"
  if [ -n "${inputs_of[$c]:-}" ]; then
    printf '%s %s\n' "${inputs_of[$c]}" "$iid" >"$build/$c.inputs"
  else
    rm -f "$build/$c.inputs"
  fi
  size=$(podman image inspect --format '{{.Size}}' "$image")
  sizes+=("$(printf '%-40s %4d MB  (%d s)' "$image" $((size / 1000000)) $((SECONDS - started)))")
  if [ "$PUSH" = 1 ]; then
    log "$c: pushing $image"
    podman push --quiet "$image"
  fi
done

printf '%s\n' "${sizes[@]}"
log "OCI archives in ${build#"$root/"}/"

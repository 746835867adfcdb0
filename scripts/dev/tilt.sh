#!/usr/bin/env bash
# make tilt-up / make tilt-ci: Tilt (packages/devloop's build of it, `make tilt-binary`) over the
# root Tiltfile, after scripts/dev/platform.sh, with kubectl, helm and KUBECONFIG set.
#
#   scripts/dev/tilt.sh up      tilt up (terminal UI: the web UI's assets are not part of Tilt's
#                               Go module; TILT_ARGS replaces --legacy, e.g. TILT_ARGS=--stream)
#   scripts/dev/tilt.sh ci      tilt ci: builds, deploys and waits until every resource is Ready
#                               (the owner seeded), then exits 0; then tilt down and
#                               scripts/dev/down.sh (cluster-down), also on failure
#                               (TILT_CI_KEEP=1 leaves everything running)
#
# Tilt's analytics and update check are off (TILT_DISABLE_ANALYTICS, the Tiltfile's
# version_settings): this machine reaches no network besides the package registries.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/dev/env.sh
export TILT_DISABLE_ANALYTICS=1

mode="${1:-up}"
tilt="$(node packages/devloop/src/cli.ts tilt-binary)"
case "$mode" in
  up)
    scripts/dev/platform.sh
    # shellcheck disable=SC2086
    exec "$tilt" up ${TILT_ARGS:---legacy}
    ;;
  ci)
    down() {
      local rc=$?
      if [ "${TILT_CI_KEEP:-0}" != 1 ]; then
        "$tilt" down >/dev/null 2>&1 || true
        scripts/dev/down.sh
      fi
      log "tilt ci: exit $rc, $((SECONDS - dev_started)) s in all"
    }
    trap down EXIT
    scripts/dev/platform.sh
    ci_started=$SECONDS
    "$tilt" ci --timeout "${TILT_CI_TIMEOUT:-30m}"
    log "tilt ci green in $((SECONDS - ci_started)) s (after the platform)"
    ;;
  *)
    fail "usage: scripts/dev/tilt.sh up|ci"
    ;;
esac

#!/usr/bin/env bash
# Runs what CI runs and ends with one line `N passed, N failed`.
#
#   scripts/check.sh              lint, typecheck, circular imports, generated-file drift, tests
#   scripts/check.sh --only tests the tests alone
#
# Expects the toolchain on PATH (the Makefile sources scripts/toolchain.sh first). Every step
# runs even when an earlier one failed, so one run shows everything that is wrong.
set -uo pipefail
cd "$(dirname "$0")/.."

only=""
[ "${1:-}" = "--only" ] && only="${2:-}"

failed_steps=()
step() {
  local name="$1"
  shift
  printf '\n\033[1m== %s\033[0m\n' "$name"
  if "$@"; then
    printf '== %s: ok\n' "$name"
  else
    printf '== %s: FAILED\n' "$name"
    failed_steps+=("$name")
  fi
}

# The test runner gets its own process group; whatever it started (Postgres, Redis, sentinels,
# etcd, kube-apiserver) is in that group and is killed with it, even if the runner itself was
# killed before its teardown ran.
run_tests() {
  rm -rf .test-results
  mkdir -p .test-results
  setsid npx vitest run &
  local pid=$!
  trap 'kill -TERM -- -'"$pid"' 2>/dev/null' INT TERM
  wait "$pid"
  local status=$?
  trap - INT TERM
  kill -KILL -- "-$pid" 2>/dev/null || true
  return "$status"
}

if [ -z "$only" ]; then
  step lint npx biome check .
  step typecheck npx tsc -b
  step circular npx depcruise --config .dependency-cruiser.cjs packages services operator
  step generated-drift scripts/generate.sh --check
fi
step tests run_tests

# One closing line for CI. Tests are counted from Vitest's JSON report; each other step counts
# as one more passed or failed item, so a lint failure is never hidden behind green tests. A
# test step that failed without a failed test (a setup error, a crash) counts as one failure.
total_steps=$([ -z "$only" ] && echo 5 || echo 1)
tests_failed_step=0
other_failed=0
for name in "${failed_steps[@]}"; do
  if [ "$name" = tests ]; then tests_failed_step=1; else other_failed=$((other_failed + 1)); fi
done
other_ok=$((total_steps - 1 - other_failed))
node -e '
const fs = require("node:fs");
const [otherOk, otherFailed, testsStepFailed] = process.argv.slice(1).map(Number);
let passed = 0, failed = 0;
try {
  const report = JSON.parse(fs.readFileSync(".test-results/vitest.json", "utf8"));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
} catch {}
if (testsStepFailed && failed === 0) failed = 1;
if (otherFailed > 0) console.log(`failed steps: ${process.argv[4]}`);
console.log(`${passed + otherOk} passed, ${failed + otherFailed} failed`);
' "$other_ok" "$other_failed" "$tests_failed_step" "${failed_steps[*]:-}"

[ "${#failed_steps[@]}" -eq 0 ]

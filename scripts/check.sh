#!/usr/bin/env bash
# Runs what CI runs and ends with one line `N passed, N failed`.
#
#   scripts/check.sh                lint, typecheck, circular imports, generated-file drift, tests,
#                                   cluster tests, e2e (the platform in pods: test/e2e/run.sh)
#   scripts/check.sh --only tests   the tests alone (the main suite, then the cluster tests)
#   scripts/check.sh --only cluster the cluster tests alone
#   scripts/check.sh --only e2e     the e2e run alone
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

# The one-node cluster's tests (packages/cluster): build (or reuse) the cluster's binaries and
# the app images first, so no cold build runs inside a test hook. The cluster's daemons run in
# their own sessions, so killing the runner's group does not stop them: `cli.ts down` always
# runs afterwards and removes whatever a crashed or interrupted run left.
run_cluster_tests() {
  mkdir -p .test-results
  rm -f .test-results/vitest-cluster.json
  node packages/cluster/src/cli.ts build || return 1
  images/build.sh || return 1
  setsid npx vitest run --config vitest.cluster.config.ts &
  local pid=$!
  trap 'kill -TERM -- -'"$pid"' 2>/dev/null' INT TERM
  wait "$pid"
  local status=$?
  trap - INT TERM
  kill -KILL -- "-$pid" 2>/dev/null || true
  node packages/cluster/src/cli.ts down || status=1
  return "$status"
}

# The platform end to end on the one-node cluster (test/e2e/run.sh: images, cluster-up, chart,
# a tenant, a message both ways, cluster-down). It takes the cluster for itself and always takes
# it down, like the cluster tests; images/build.sh reuses every image whose inputs did not
# change, so after the cluster tests it rebuilds nothing.
run_e2e() {
  setsid test/e2e/run.sh &
  local pid=$!
  trap 'kill -TERM -- -'"$pid"' 2>/dev/null' INT TERM
  wait "$pid"
  local status=$?
  trap - INT TERM
  kill -KILL -- "-$pid" 2>/dev/null || true
  node packages/cluster/src/cli.ts down >/dev/null || status=1
  return "$status"
}

ran_steps=()
if [ -z "$only" ]; then
  step lint npx biome check .
  step typecheck npx tsc -b
  step circular npm run --silent circular
  step generated-drift scripts/generate.sh --check
  ran_steps+=(lint typecheck circular generated-drift)
fi
if [ -z "$only" ] || [ "$only" = tests ]; then
  step tests run_tests
  ran_steps+=(tests)
fi
if [ -z "$only" ] || [ "$only" = tests ] || [ "$only" = cluster ]; then
  step cluster-tests run_cluster_tests
  ran_steps+=(cluster-tests)
fi
if [ -z "$only" ] || [ "$only" = e2e ]; then
  step e2e run_e2e
  ran_steps+=(e2e)
fi

# One closing line for CI. Tests are counted from Vitest's JSON reports (the main suite's and
# the cluster's); each other step counts as one more passed or failed item, so a lint failure
# is never hidden behind green tests. A test step that failed without a failed test (a setup
# error, a crash, a failed build) counts as one failure.
node -e '
const fs = require("node:fs");
const ran = process.argv[1].split(" ").filter(Boolean);
const failedSteps = new Set(process.argv[2].split(" ").filter(Boolean));
const reports = { tests: ".test-results/vitest.json", "cluster-tests": ".test-results/vitest-cluster.json" };
let passed = 0, failed = 0;
for (const step of ran) {
  if (!(step in reports)) {
    if (failedSteps.has(step)) failed++; else passed++;
    continue;
  }
  let p = 0, f = 0;
  try {
    const report = JSON.parse(fs.readFileSync(reports[step], "utf8"));
    p = report.numPassedTests;
    f = report.numFailedTests;
  } catch {}
  if (failedSteps.has(step) && f === 0) f = 1;
  passed += p;
  failed += f;
}
const others = [...failedSteps].filter((s) => !(s in reports));
if (others.length > 0) console.log(`failed steps: ${[...failedSteps].join(" ")}`);
console.log(`${passed} passed, ${failed} failed`);
' "${ran_steps[*]}" "${failed_steps[*]:-}"

[ "${#failed_steps[@]}" -eq 0 ]

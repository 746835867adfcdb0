import { defineConfig } from 'vitest/config';

// The one-node cluster's tests (packages/cluster/src/*.cluster-test.ts): real pods on a real
// kubelet, so one file at a time, after the main suite (scripts/check.sh's `cluster-tests`
// step). The global setup brings the cluster up and always takes it down. The binaries and
// images must already be built (`node packages/cluster/src/cli.ts build`, `make images`).
export default defineConfig({
  test: {
    include: ['packages/cluster/src/**/*.cluster-test.ts'],
    globalSetup: ['packages/cluster/src/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    teardownTimeout: 180_000,
    reporters: ['default', ['json', { outputFile: '.test-results/vitest-cluster.json' }]],
  },
});

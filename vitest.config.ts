import { defineConfig } from 'vitest/config';

// One run, one set of real services: the global setups start Postgres, Redis, a Sentinel group
// and a kube-apiserver once, and every test file gets its own database, key prefix and
// namespace from the fixtures in packages/testing and packages/envtest.
export default defineConfig({
  test: {
    include: ['{packages,services,operator,test}/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/generated/**'],
    globalSetup: ['packages/testing/src/global-setup.ts', 'packages/envtest/src/global-setup.ts'],
    pool: 'forks',
    // CI has 2 cores; more forks than that only adds contention on the shared servers.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // expect.poll waits for what a page or a process shows next (1 s by default): on a full run's
    // loaded 2 cores a page reload can take longer, and a poll only waits as long as it must.
    expect: { poll: { timeout: 15_000 } },
    reporters: ['default', ['json', { outputFile: '.test-results/vitest.json' }]],
  },
});

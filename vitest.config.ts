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
    reporters: ['default', ['json', { outputFile: '.test-results/vitest.json' }]],
  },
});

import { describe, expect, it } from 'vitest';
import { isSyncedSource } from './sync.ts';

describe('isSyncedSource', () => {
  it('takes the sources the dev images run and nothing else', () => {
    for (const path of [
      'services/api/src/server.ts',
      'services/worker/src/sessions/claim.ts',
      'operator/src/controller/tenant-reconciler.ts',
      'packages/db/src/client.ts',
    ]) {
      expect(isSyncedSource(path), path).toBe(true);
    }
    for (const path of [
      'services/api/src/server.test.ts',
      'services/inbox/src/App.tsx',
      'packages/db/migrations/0001_init.sql',
      'packages/testing/src/fixtures/tenant.ts',
      'services/api/test/routes.ts',
      'packages/db/node_modules/x/src/index.js',
      'docs/development.md',
      'scripts/dev/up.sh',
    ]) {
      expect(isSyncedSource(path), path).toBe(false);
    }
  });
});

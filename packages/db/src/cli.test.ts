import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));

/** Runs the CLI with exactly the given environment, nothing inherited. */
function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('cli', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase({ label: 'cli' });
    env = { DATABASE_URL: database.ownerUrl, DATABASE_APP_ROLE: database.appRole };
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('exits 1 naming a missing or malformed variable, without echoing its value', async () => {
    const missing = await run(['up'], { DATABASE_APP_ROLE: 'app' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('DATABASE_URL is not set');

    const bad = await run(['up'], { DATABASE_URL: 'mysql://u:hunter2@h/db', DATABASE_APP_ROLE: 'App-Role' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('DATABASE_URL must be a postgres://');
    expect(bad.stderr).toContain('DATABASE_APP_ROLE must be a lower-case Postgres role name');
    expect(bad.stderr).not.toContain('hunter2');
  });

  it('exits 1 with the usage on a bad command or count', async () => {
    for (const args of [[], ['sideways'], ['down', '0'], ['up', '1', '2']]) {
      const result = await run(args, env);
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      expect(result.stderr).toContain('usage: node packages/db/src/cli.ts');
    }
  });

  it('rolls back and applies migrations', async () => {
    const down = await run(['down', 'all'], env);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/migrated down: .*0001_tenancy/);
    const up = await run(['up'], env);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/migrated up: 0001_tenancy, /);
    const again = await run(['up'], env);
    expect(again.stdout).toContain('nothing to migrate');
  });

  it('exits 2 when a migration fails', async () => {
    const result = await run(['down', 'all'], { ...env, DATABASE_APP_ROLE: 'no_such_role_here' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/migration down failed: .*does not exist/);
    // Restore for whoever runs next in this file.
    expect((await run(['up'], env)).code).toBe(0);
  });
});

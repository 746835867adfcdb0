import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningMoto, startMoto } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A service's start, in a real child process: the wired loader reads process.env and
// either prints the config or exits 1 with the problems on stderr.
const entry = join(import.meta.dirname, 'index.ts');
const script = `
import { defineConfig, databaseConfigSchema, loggingConfigSchema, loadConfigFromProcess } from ${JSON.stringify(entry)};
const config = await loadConfigFromProcess(defineConfig(loggingConfigSchema, databaseConfigSchema));
process.stdout.write(JSON.stringify(config));
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runService(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '--no-warnings', '-e', script],
      { env, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
          stdout,
          stderr,
        });
      },
    );
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cst-config-process-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadConfigFromProcess', () => {
  it('exits with code 1 and names every bad variable on stderr, without the values', async () => {
    const run = await runService({ LOG_LEVEL: 'chatty', DATABASE_URL: 'mysql://root:hunter2-db@db/app' });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('Invalid configuration: 2 variables have problems');
    expect(run.stderr).toContain(
      '  - LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(run.stderr).toContain(
      '  - DATABASE_URL: expected a URL starting with postgres:// or postgresql://',
    );
    expect(run.stderr).not.toContain('hunter2-db');
  });

  it('exits with code 1 when a secret file is missing', async () => {
    const run = await runService({ DATABASE_URL: `secret://file${join(dir, 'missing-db-url')}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/DATABASE_URL: could not resolve the secret reference: .*does not exist/);
  });

  it('starts when the configuration is valid, with a file secret resolved', async () => {
    await writeFile(join(dir, 'database-url'), 'postgres://app:pw@db/acme\n');
    const run = await runService({
      DATABASE_URL: `secret://file${join(dir, 'database-url')}`,
      LOG_LEVEL: 'debug',
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ LOG_LEVEL: 'debug', DATABASE_URL: 'postgres://app:pw@db/acme' });
  });

  it('exits with code 1 naming the secret providers’ variables when they are incomplete', async () => {
    const run = await runService({
      SECRETS_PROVIDER: 'vault',
      VAULT_TOKEN: 'hvs.hunter2-vault',
      DATABASE_URL: 'postgres://app:pw@db/acme',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('  - VAULT_ADDR: is required when SECRETS_PROVIDER=vault');
    expect(run.stderr).not.toContain('hunter2-vault');
  });

  describe('with SECRETS_PROVIDER=aws', () => {
    let moto: RunningMoto;
    beforeAll(async () => {
      moto = await startMoto();
      await moto.createSecret('acme/database-url', 'postgres://app:from-aws@db/acme');
    });
    afterAll(async () => {
      await moto?.stop();
    });

    it('resolves a secret://aws reference from the environment the operator writes', async () => {
      const run = await runService({
        SECRETS_PROVIDER: 'aws',
        AWS_REGION: moto.region,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
        AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
        DATABASE_URL: 'secret://aws/acme/database-url',
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({
        LOG_LEVEL: 'info',
        DATABASE_URL: 'postgres://app:from-aws@db/acme',
      });
    });
  });
});

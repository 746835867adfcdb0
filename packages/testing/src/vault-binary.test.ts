import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFileLock } from '@switchboard/envtest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureVaultBinary, VAULT_VERSION, vaultCachePaths } from './vault-binary.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cst-testing-vault-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the Vault binary', () => {
  it('is the release go/vault/go.mod requires', async () => {
    const goMod = await readFile(new URL('../go/vault/go.mod', import.meta.url), 'utf8');
    expect(goMod).toMatch(
      new RegExp(`^require github\\.com/hashicorp/vault v${VAULT_VERSION.replaceAll('.', '\\.')}$`, 'm'),
    );
  });

  it('is cached per version under SWITCHBOARD_CACHE', () => {
    expect(vaultCachePaths({ SWITCHBOARD_CACHE: '/c' })).toMatchObject({
      vault: `/c/vault/${VAULT_VERSION}/bin/vault`,
      stamp: `/c/vault/${VAULT_VERSION}/vault.json`,
      lock: `/c/vault/${VAULT_VERSION}/vault.lock`,
    });
  });

  it('takes SWITCHBOARD_VAULT_BINARY as given, and refuses one that is not executable', async () => {
    const file = join(dir, 'vault');
    await writeFile(file, '#!/bin/sh\n');
    await expect(ensureVaultBinary({ env: { SWITCHBOARD_VAULT_BINARY: file } })).rejects.toThrow(
      `SWITCHBOARD_VAULT_BINARY is not an executable file: ${file}`,
    );
    await chmod(file, 0o755);
    await expect(ensureVaultBinary({ env: { SWITCHBOARD_VAULT_BINARY: file } })).resolves.toEqual({
      path: file,
      source: 'env',
    });
  });

  it('says what to do when there is no cache and no Go to build with', async () => {
    await expect(
      ensureVaultBinary({ env: { SWITCHBOARD_CACHE: join(dir, 'cache'), PATH: dir } }),
    ).rejects.toThrow(/Vault .* is not available: .*`go` is not on PATH.*make vault-binary/s);
  });
});

describe('withFileLock', () => {
  it('runs holders one after the other and removes the lock', async () => {
    const lock = join(dir, 'build.lock');
    const events: string[] = [];
    const holder = (name: string) =>
      withFileLock(lock, async () => {
        events.push(`${name} in`);
        await sleep(50);
        events.push(`${name} out`);
      });
    await Promise.all([holder('a'), holder('b')]);
    expect(
      [events.slice(0, 2), events.slice(2)].map((pair) => pair[0]!.split(' ')[0] === pair[1]!.split(' ')[0]),
    ).toEqual([true, true]);
    await expect(readFile(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes over a lock whose owner process is gone', async () => {
    const lock = join(dir, 'stale.lock');
    // Above Linux's largest pid (2^22), so no process has it.
    await writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 12_345, host: hostname(), since: '' }));
    await expect(withFileLock(lock, async () => 'ran')).resolves.toBe('ran');
  });
});

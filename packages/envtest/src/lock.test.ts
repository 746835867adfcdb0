import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withFileLock } from './lock.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envtest-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('runs holders one at a time', async () => {
  const lock = join(dir, 'serial.lock');
  const events: string[] = [];
  const holder = (name: string) =>
    withFileLock(lock, async () => {
      events.push(`${name} in`);
      await sleep(300);
      events.push(`${name} out`);
    });
  await Promise.all([holder('a'), holder('b')]);
  expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);
});

it('takes over a lock whose owner died', async () => {
  const lock = join(dir, 'stale.lock');
  // A pid that cannot be running: above the kernel's pid_max.
  await writeFile(lock, JSON.stringify({ pid: 2 ** 30, host: hostname(), since: new Date().toISOString() }));
  let waited = false;
  const result = await withFileLock(lock, async () => JSON.parse(await readFile(lock, 'utf8')).pid, {
    onWait: () => {
      waited = true;
    },
  });
  expect(result).toBe(process.pid);
  expect(waited).toBe(false);
});

it('waits for a live owner and gives up at the timeout', async () => {
  const lock = join(dir, 'live.lock');
  await writeFile(
    lock,
    JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }),
  );
  const owners: string[] = [];
  const error = await withFileLock(lock, async () => 'got it', {
    timeoutMs: 1500,
    onWait: (owner) => owners.push(owner),
  }).catch((e: unknown) => e);
  expect(String(error)).toContain('timed out waiting for the lock');
  expect(owners[0]).toContain(String(process.pid));
});

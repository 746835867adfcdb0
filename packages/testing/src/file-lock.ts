import { open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Options for {@link withFileLock}. */
export interface FileLockOptions {
  /** Give up after this long (default 60 minutes: a cold Go build on 2 busy cores is long). */
  timeoutMs?: number;
  /** Called once when someone else holds the lock, so a waiting build can say why it is idle. */
  onWait?: (owner: string) => void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Stale: its owner on this host is gone, or it was left empty (the owner died between creating
// and writing it) more than a few seconds ago.
async function isStale(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return false; // vanished: the next attempt creates it
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    return owner.host === hostname() && !isAlive(owner.pid);
  } catch {
    const info = await stat(path).catch(() => undefined);
    return info !== undefined && Date.now() - info.mtimeMs > 10_000;
  }
}

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL), so two test processes that
 * both find a binary cache empty build it once, not twice into the same place. The same
 * protocol as packages/envtest's lock, which is internal to that package.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60_000);
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  let announced = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await isStale(path)) {
      await rm(path, { force: true });
      continue;
    }
    if (!announced) {
      announced = true;
      options.onWait?.(await readFile(path, 'utf8').catch(() => 'unknown owner'));
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for the lock ${path}; remove it if no build is running`);
    }
    await sleep(1000);
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

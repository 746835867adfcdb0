import { lstat, mkdir, mkdtemp, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSecretProviderConformance } from './conformance.ts';
import { FileSecretProvider } from './file.ts';
import { SecretError } from './provider.ts';

/**
 * Writes a directory the way the kubelet's AtomicWriter updates a mounted Secret:
 * files go into a fresh `..<timestamp>` directory, a `..data_tmp` symlink to it is
 * renamed over `..data` (the atomic step), each key is a symlink `key -> ..data/key`,
 * and the previous timestamped directory is removed.
 */
class KubeletSecretVolume {
  readonly dir: string;
  #generation = 0;
  #previous: string | undefined;
  #keys = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  async write(files: Record<string, string>): Promise<void> {
    this.#generation++;
    const timestamped = `..2025_11_22_08_00_00.${String(this.#generation).padStart(9, '0')}`;
    await mkdir(join(this.dir, timestamped), { recursive: true });
    for (const [key, content] of Object.entries(files))
      await writeFile(join(this.dir, timestamped, key), content);
    await symlink(timestamped, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const key of Object.keys(files)) {
      if (!this.#keys.has(key)) await symlink(join('..data', key), join(this.dir, key));
    }
    for (const key of this.#keys) if (!(key in files)) await unlink(join(this.dir, key));
    this.#keys = new Set(Object.keys(files));
    if (this.#previous !== undefined) await rm(join(this.dir, this.#previous), { recursive: true });
    this.#previous = timestamped;
  }
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cst-secrets-file-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let fixtureCount = 0;
describeSecretProviderConformance({
  name: 'file',
  supportsWatch: true,
  async create(secrets) {
    const dir = join(root, `conformance-${++fixtureCount}`);
    const volume = new KubeletSecretVolume(dir);
    let files = { plain: secrets.plain, structured: JSON.stringify(secrets.structured) };
    await volume.write(files);
    return {
      provider: new FileSecretProvider({ baseDir: dir }),
      plainPath: 'plain',
      structuredPath: 'structured',
      missingPath: 'no-such-file',
      async rotatePlain(value) {
        files = { ...files, plain: value };
        await volume.write(files);
      },
      async cleanup() {
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

/** Resolves on the first call after `arm()`; counts every call. */
function listener() {
  let calls = 0;
  let waiters: Array<() => void> = [];
  return {
    notify: () => {
      calls++;
      for (const wake of waiters) wake();
      waiters = [];
    },
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
    calls: () => calls,
  };
}

describe('FileSecretProvider', () => {
  it('resolves paths under / by default, so references carry absolute paths', async () => {
    const dir = join(root, 'absolute');
    await mkdir(dir);
    await writeFile(join(dir, 'token'), 'abs-token\n');
    const provider = new FileSecretProvider();
    await expect(provider.get(join(dir, 'token').slice(1))).resolves.toBe('abs-token');
  });

  it('never reads outside its base directory', async () => {
    const provider = new FileSecretProvider({ baseDir: join(root, 'jail') });
    await expect(provider.get('../escape')).rejects.toMatchObject({ code: 'SECRET_REFERENCE_INVALID' });
    await expect(provider.get('/etc/hostname')).rejects.toMatchObject({ code: 'SECRET_REFERENCE_INVALID' });
  });

  it('removes exactly one trailing newline from a raw value', async () => {
    const dir = join(root, 'newlines');
    await mkdir(dir);
    await writeFile(join(dir, 'one'), 'value\n');
    await writeFile(join(dir, 'crlf'), 'value\r\n');
    await writeFile(join(dir, 'two'), 'value\n\n');
    const provider = new FileSecretProvider({ baseDir: dir });
    await expect(provider.get('one')).resolves.toBe('value');
    await expect(provider.get('crlf')).resolves.toBe('value');
    await expect(provider.get('two')).resolves.toBe('value\n');
  });

  it('reads #key from KEY=VALUE lines: comments skipped, first "=" splits, quotes removed', async () => {
    const dir = join(root, 'dotenv');
    await mkdir(dir);
    await writeFile(
      join(dir, 'redis.env'),
      '# rotated by the operator\n\nREDIS_USER = app\nREDIS_PASSWORD=a=b#c\nQUOTED="with spaces"\r\nSINGLE=\'x\'\n',
    );
    const provider = new FileSecretProvider({ baseDir: dir });
    await expect(provider.get('redis.env', 'REDIS_USER')).resolves.toBe(' app');
    await expect(provider.get('redis.env', 'REDIS_PASSWORD')).resolves.toBe('a=b#c');
    await expect(provider.get('redis.env', 'QUOTED')).resolves.toBe('with spaces');
    await expect(provider.get('redis.env', 'SINGLE')).resolves.toBe('x');
    await expect(provider.get('redis.env', 'MISSING')).rejects.toMatchObject({
      code: 'SECRET_KEY_NOT_FOUND',
    });
  });

  it('refuses text that is neither JSON nor KEY=VALUE, without quoting it', async () => {
    const dir = join(root, 'garbage');
    await mkdir(dir);
    await writeFile(join(dir, 'raw'), 'just-a-raw-secret-value\n');
    await writeFile(join(dir, 'badjson'), '{"password": "leaky-json-value"');
    const provider = new FileSecretProvider({ baseDir: dir });
    for (const [path, value] of [
      ['raw', 'just-a-raw-secret-value'],
      ['badjson', 'leaky-json-value'],
    ] as const) {
      const error = (await provider.get(path, 'password').catch((caught: unknown) => caught)) as SecretError;
      expect(error).toBeInstanceOf(SecretError);
      expect(error.code).toBe('SECRET_MALFORMED');
      expect(error.message).not.toContain(value);
    }
  });

  it('reports a directory and an unreadable file distinctly', async () => {
    const dir = join(root, 'kinds');
    await mkdir(join(dir, 'sub'), { recursive: true });
    const provider = new FileSecretProvider({ baseDir: dir });
    await expect(provider.get('sub')).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
    await expect(provider.get('sub/none')).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
  });

  it('survives repeated kubelet symlink swaps and notifies only the files that changed', async () => {
    const dir = join(root, 'kubelet');
    const volume = new KubeletSecretVolume(dir);
    await volume.write({ username: 'app', password: 'v1' });
    expect(await readlink(join(dir, '..data'))).toMatch(/^\.\.2025/);
    expect((await lstat(join(dir, 'password'))).isSymbolicLink()).toBe(true);

    const provider = new FileSecretProvider({ baseDir: dir });
    const password = listener();
    const username = listener();
    const stopPassword = provider.watch('password', password.notify);
    const stopUsername = provider.watch('username', username.notify);

    for (const version of ['v2', 'v3', 'v4']) {
      const changed = password.next();
      await volume.write({ username: 'app', password: version });
      await changed;
      await expect(provider.get('password')).resolves.toBe(version);
    }
    expect(password.calls()).toBe(3);

    // The username never changed through three swaps. Change it now: its first and
    // only notification proves the earlier swaps did not notify it.
    const usernameChanged = username.next();
    await volume.write({ username: 'app2', password: 'v4' });
    await usernameChanged;
    expect(username.calls()).toBe(1);
    await expect(provider.get('username')).resolves.toBe('app2');

    stopPassword();
    stopUsername();
    await provider.close();
  });

  it('notifies when a plain file is rewritten in place and when it is deleted', async () => {
    const dir = join(root, 'plain-file');
    await mkdir(dir);
    await writeFile(join(dir, 'token'), 't1');
    const provider = new FileSecretProvider({ baseDir: dir });
    const token = listener();
    provider.watch('token', token.notify);

    let next = token.next();
    await writeFile(join(dir, 'token'), 't2');
    await next;
    await expect(provider.get('token')).resolves.toBe('t2');

    next = token.next();
    await unlink(join(dir, 'token'));
    await next;
    await expect(provider.get('token')).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
    await provider.close();
  });

  it('stops watching on close', async () => {
    const dir = join(root, 'close');
    const volume = new KubeletSecretVolume(dir);
    await volume.write({ key: 'one' });
    const closed = new FileSecretProvider({ baseDir: dir });
    const open = new FileSecretProvider({ baseDir: dir });
    const fromClosed = listener();
    const fromOpen = listener();
    closed.watch('key', fromClosed.notify);
    open.watch('key', fromOpen.notify);
    await closed.close();
    const changed = fromOpen.next();
    await volume.write({ key: 'two' });
    await changed;
    expect(fromClosed.calls()).toBe(0);
    expect(() => closed.watch('key', () => {})).toThrow(SecretError);
    await open.close();
  });

  it('refuses to watch a file in a directory that does not exist', () => {
    const provider = new FileSecretProvider({ baseDir: root });
    expect(() => provider.watch('no-such-dir/key', () => {})).toThrow(/does not exist/);
  });

  it('reports a throwing listener to onError and still notifies the others', async () => {
    const dir = join(root, 'throwing');
    await mkdir(dir);
    await writeFile(join(dir, 'key'), 'a');
    const errors: unknown[] = [];
    const provider = new FileSecretProvider({ baseDir: dir, onError: (error) => errors.push(error) });
    const healthy = listener();
    provider.watch('key', () => {
      throw new Error('listener bug');
    });
    provider.watch('key', healthy.notify);
    const next = healthy.next();
    await writeFile(join(dir, 'key'), 'b');
    await next;
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('listener bug');
    await provider.close();
  });
});

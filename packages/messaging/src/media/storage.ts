import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

/** Where fetched media is kept: a port with one adapter per store (local filesystem here; S3 later). */
export interface MediaStorage {
  /** Stores `data` under `key` (replacing what was there). */
  put(key: string, data: Uint8Array, contentType: string): Promise<void>;
  /** Reads what is stored under `key`; undefined when nothing is. */
  get(key: string): Promise<Uint8Array | undefined>;
}

const KEY = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/i;

/** Throws unless `key` is a relative path of plain segments (no `..`, no leading `/`). */
export function assertStorageKey(key: string): void {
  if (!KEY.test(key) || key.split('/').some((s) => s === '.' || s === '..'))
    throw new Error(`media storage key ${JSON.stringify(key)} is not a relative path of plain segments`);
}

/** Media in a directory: each key a file below `root`, written atomically (temp file + rename). */
export class LocalMediaStorage implements MediaStorage {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    assertStorageKey(key);
    const path = resolve(join(this.root, key));
    if (!path.startsWith(this.root + sep))
      throw new Error(`media storage key ${JSON.stringify(key)} escapes the root`);
    return path;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    try {
      await writeFile(temp, data);
      await rename(temp, path);
    } finally {
      await rm(temp, { force: true });
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

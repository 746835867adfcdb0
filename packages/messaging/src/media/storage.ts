import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * Where media is kept: a port with one adapter per store (`LocalMediaStorage` here,
 * `S3MediaStorage` in s3-storage.ts). Keys are relative paths of plain segments
 * (`media/<session>/<message>`); an adapter may put them under a prefix of its own (the tenant).
 */
export interface MediaStorage {
  /** Stores `data` under `key` (replacing what was there). */
  put(key: string, data: Uint8Array, contentType: string): Promise<void>;
  /** Reads what is stored under `key`; undefined when nothing is. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Removes what is stored under `key` (erasing a contact); nothing stored is not an error. */
  delete(key: string): Promise<void>;
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

  /** Keeps files below `root` (created on the first write). */
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

  /** Writes the file; the content type is not kept (the message row records it). */
  async put(key: string, data: Uint8Array, _contentType?: string): Promise<void> {
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

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}

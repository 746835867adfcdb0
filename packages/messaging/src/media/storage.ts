import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * What a file is stored from: its bytes, or a stream of them. A stream is read once, in order; an
 * error it throws (a size limit, a failed hash check at its end) fails the `put` and leaves nothing.
 */
export type MediaSource = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * Where media is kept: a port with one adapter per store (`LocalMediaStorage` here,
 * `S3MediaStorage` in s3-storage.ts). Keys are relative paths of plain segments
 * (`media/<session>/<message>`); an adapter may put them under a prefix of its own (the tenant).
 */
export interface MediaStorage {
  /**
   * Stores `data` under `key`, replacing what was there. A stream is written as it is read (never
   * held whole in memory); the object appears only once the stream has ended without an error, so
   * a `put` that rejects leaves no object under `key` (and an earlier one untouched).
   */
  put(key: string, data: MediaSource, contentType: string): Promise<void>;
  /** Reads what is stored under `key`; undefined when nothing is. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Opens what is stored under `key` as a stream (serving a download); undefined when nothing is. */
  open(key: string): Promise<Readable | undefined>;
  /** Removes what is stored under `key` (erasing a contact); nothing stored is not an error. */
  delete(key: string): Promise<void>;
}

const KEY = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/i;

/** Throws unless `key` is a relative path of plain segments (no `..`, no leading `/`). */
export function assertStorageKey(key: string): void {
  if (!KEY.test(key) || key.split('/').some((s) => s === '.' || s === '..'))
    throw new Error(`media storage key ${JSON.stringify(key)} is not a relative path of plain segments`);
}

let tempCounter = 0;

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

  /**
   * Writes a temp file beside the target (streamed: at most a few chunks in memory), then renames
   * it over the target; a failed source or write removes the temp file. The content type is not
   * kept (the message row records it).
   */
  async put(key: string, data: MediaSource, _contentType?: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    tempCounter += 1;
    const temp = `${path}.${process.pid}.${Date.now()}.${tempCounter}.tmp`;
    try {
      if (data instanceof Uint8Array) await writeFile(temp, data);
      else await pipeline(Readable.from(data, { objectMode: false }), createWriteStream(temp));
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

  async open(key: string): Promise<Readable | undefined> {
    const stream = createReadStream(this.path(key));
    // Opening is asynchronous: wait for it, so a missing file is undefined rather than a stream error.
    return await new Promise<Readable | undefined>((resolveOpen, reject) => {
      stream.once('ready', () => resolveOpen(stream));
      stream.once('error', (error) => {
        if ((error as { code?: string }).code === 'ENOENT') resolveOpen(undefined);
        else reject(error);
      });
    });
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}

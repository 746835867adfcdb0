import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch as watchDirectory } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { SecretError, type SecretProvider, type Unsubscribe } from './provider.ts';
import { pickSecretKey } from './structured.ts';

/** Options for `FileSecretProvider`. */
export interface FileSecretProviderOptions {
  /**
   * Directory that reference paths are resolved under, default `/`: with the default,
   * `secret://file/var/run/secrets/db/url` reads `/var/run/secrets/db/url`; with
   * `/var/run/secrets`, `secret://file/db/url` reads the same file. Paths cannot
   * climb out of it.
   */
  baseDir?: string;
  /** Receives errors thrown by watch listeners and by the directory watcher; default: ignored. */
  onError?: (error: unknown) => void;
}

interface WatchedFile {
  /** sha256 of the last content seen, or a marker for missing/unreadable; never the content. */
  digest: string;
  listeners: Set<{ notify: () => void }>;
  /** A re-read is in flight; `again` asks it to go round once more. Keeps reads in order. */
  reading: boolean;
  again: boolean;
}

interface WatchedDirectory {
  watcher: FSWatcher;
  files: Map<string, WatchedFile>;
}

/**
 * Secrets mounted as files, the Kubernetes way. `secret://file/<path>` is the whole
 * file with one trailing newline removed (editors and `echo` add one; a secret never
 * ends in one on purpose). `secret://file/<path>#key` reads the file as a structured
 * secret: a JSON object or KEY=VALUE lines (see `pickSecretKey`).
 *
 * Watching: the kubelet updates a mounted Secret by writing a new `..<timestamp>`
 * directory, pointing a temporary `..data_tmp` symlink at it and renaming that over
 * `..data`; each key is a symlink `key -> ..data/key`. A watch on the file itself
 * follows the old inode, which is deleted, so it never fires again. This provider
 * watches the containing directory instead, re-reads the file on any event in it and
 * notifies only when the content actually changed. (subPath mounts are never updated
 * by the kubelet; mount the whole Secret.)
 */
export class FileSecretProvider implements SecretProvider {
  /** Provider name in references: `secret://file/...`. */
  readonly name = 'file';
  readonly #baseDir: string;
  readonly #onError: (error: unknown) => void;
  readonly #directories = new Map<string, WatchedDirectory>();
  #closed = false;

  /** Creates a provider reading under `options.baseDir` (default `/`). */
  constructor(options: FileSecretProviderOptions = {}) {
    this.#baseDir = resolve(options.baseDir ?? '/');
    this.#onError = options.onError ?? (() => {});
  }

  /** Reads the file at `path` (under the base directory), or entry `key` of it. */
  async get(path: string, key?: string): Promise<string> {
    this.#assertOpen();
    const file = this.#resolve(path);
    const where = `file ${file}`;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw readError(error, where);
    }
    return key === undefined ? stripOneTrailingNewline(text) : pickSecretKey(text, key, where);
  }

  /** Calls `onChange` after the content of the file at `path` changes, including by a kubelet symlink swap. */
  watch(path: string, onChange: () => void): Unsubscribe {
    this.#assertOpen();
    const file = this.#resolve(path);
    const directoryPath = dirname(file);
    let directory = this.#directories.get(directoryPath);
    if (directory === undefined) {
      let watcher: FSWatcher;
      try {
        // Not persistent: a watched secret alone should not keep a finished process alive.
        watcher = watchDirectory(directoryPath, { persistent: false }, () => this.#refresh(directoryPath));
      } catch (error) {
        throw readError(error, `directory ${directoryPath}`);
      }
      watcher.on('error', (error) => this.#onError(error));
      directory = { watcher, files: new Map() };
      this.#directories.set(directoryPath, directory);
    }
    let watched = directory.files.get(file);
    if (watched === undefined) {
      // The baseline is read after the directory watch is in place, so a change that
      // lands in between is seen by the watch rather than lost.
      watched = { digest: digestSync(file), listeners: new Set(), reading: false, again: false };
      directory.files.set(file, watched);
    }
    const listener = { notify: onChange };
    watched.listeners.add(listener);
    return () => {
      const current = this.#directories.get(directoryPath);
      const entry = current?.files.get(file);
      if (current === undefined || entry === undefined) return;
      entry.listeners.delete(listener);
      if (entry.listeners.size > 0) return;
      current.files.delete(file);
      if (current.files.size === 0) {
        current.watcher.close();
        this.#directories.delete(directoryPath);
      }
    };
  }

  /** Stops every watch; later calls to `get` and `watch` fail with `SECRET_PROVIDER_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const directory of this.#directories.values()) directory.watcher.close();
    this.#directories.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new SecretError('SECRET_PROVIDER_CLOSED', 'file secret provider is closed');
  }

  #resolve(path: string): string {
    const file = resolve(this.#baseDir, path);
    const inside = relative(this.#baseDir, file);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
      throw new SecretError(
        'SECRET_REFERENCE_INVALID',
        `file secret path "${path}" is not a file under ${this.#baseDir}`,
      );
    }
    return file;
  }

  #refresh(directoryPath: string): void {
    const directory = this.#directories.get(directoryPath);
    if (directory === undefined) return;
    for (const [file, watched] of directory.files) void this.#reread(file, watched);
  }

  async #reread(file: string, watched: WatchedFile): Promise<void> {
    if (watched.reading) {
      watched.again = true;
      return;
    }
    watched.reading = true;
    try {
      do {
        watched.again = false;
        const digest = await digestAsync(file);
        if (this.#closed || digest === watched.digest) continue;
        watched.digest = digest;
        for (const listener of [...watched.listeners]) {
          try {
            listener.notify();
          } catch (error) {
            this.#onError(error);
          }
        }
      } while (watched.again && !this.#closed);
    } finally {
      watched.reading = false;
    }
  }
}

function stripOneTrailingNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function readError(error: unknown, where: string): SecretError {
  const code = errorCode(error);
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new SecretError('SECRET_NOT_FOUND', `${where} does not exist`);
  if (code === 'EISDIR') return new SecretError('SECRET_NOT_FOUND', `${where} is a directory, not a file`);
  if (code === 'EACCES' || code === 'EPERM') {
    return new SecretError('SECRET_UNREADABLE', `${where} is not readable by this process (${code})`);
  }
  return new SecretError('SECRET_UNREADABLE', `${where} could not be read (${code ?? 'unknown error'})`);
}

function digestOf(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function digestSync(file: string): string {
  try {
    return digestOf(readFileSync(file));
  } catch (error) {
    return `unreadable:${errorCode(error) ?? 'unknown'}`;
  }
}

async function digestAsync(file: string): Promise<string> {
  try {
    return digestOf(await readFile(file));
  } catch (error) {
    return `unreadable:${errorCode(error) ?? 'unknown'}`;
  }
}

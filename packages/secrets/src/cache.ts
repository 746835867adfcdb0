import { createHash } from 'node:crypto';
import { SecretError, type SecretErrorCode, type Unsubscribe } from './provider.ts';

/**
 * The value cache of the providers that read over the network (Vault, AWS Secrets Manager).
 * A value is served from memory for `ttlMs`, then the next read goes back to the backend, so a
 * rotated secret (a Cloud API token, an S3 key) is used without a restart once its TTL has
 * run out. While re-reading fails with `SECRET_UNREADABLE` (the backend is down, a token
 * expired), the last good value keeps being served for at most `maxStaleMs` past its TTL and
 * `onStale` is told each time; after that, reads fail. A secret that is gone
 * (`SECRET_NOT_FOUND`) or no longer parses (`SECRET_MALFORMED`) is not served stale: those are
 * answers from the backend, not an outage.
 */

/** How a caching provider keeps values. */
export interface SecretCacheOptions {
  /**
   * How long a value is served from memory before the next read goes back to the backend
   * (default 5 minutes); watched secrets are re-read at this interval too.
   */
  ttlMs?: number;
  /** How long past its TTL the last good value is served while re-reading fails (default 30 minutes). */
  maxStaleMs?: number;
  /** Told each time a stale value is served because re-reading failed; never given a value. */
  onStale?: (event: StaleSecretEvent) => void;
  /** The clock, in ms; tests pass their own to move past a TTL without waiting. */
  now?: () => number;
}

/** A re-read failed and the last good value is served instead. */
export interface StaleSecretEvent {
  /** The provider's name (`vault`, `aws`). */
  provider: string;
  /** The path whose re-read failed. */
  path: string;
  /** The failed re-read's code (always `SECRET_UNREADABLE`). */
  code: SecretErrorCode;
  /** The failed re-read's message: names the path and the cause, never a value. */
  message: string;
  /** How long ago the value now served was read, in ms. */
  ageMs: number;
  /** Until when (on the cache's clock, epoch ms) the value may still be served. */
  servedUntil: number;
}

/** Defaults, in ms: a rotation is picked up within 5 minutes; an outage is ridden for 30. */
export const DEFAULT_SECRET_TTL_MS = 5 * 60_000;
export const DEFAULT_SECRET_MAX_STALE_MS = 30 * 60_000;
// After a failed re-read the stale value is served without asking the backend again for this
// long (at most the TTL), so an outage does not put every read behind a failing request.
const MAX_RETRY_INTERVAL_MS = 10_000;

interface Entry<E> {
  value: E;
  digest: string;
  /** When the value was read from the backend. */
  readAt: number;
  /** While serving stale: no re-read before this time. */
  retryAt: number;
}

interface Watched {
  /** Digest of the value the watchers last saw (or of the error), undefined until known. */
  digest: string | undefined;
  listeners: Set<{ notify: () => void }>;
  timer: NodeJS.Timeout | undefined;
}

/** Options for `SecretCache`: the backend read and the cache settings. */
export interface SecretCacheConfig<E> extends SecretCacheOptions {
  /** The provider's name, for stale events. */
  provider: string;
  /** Reads the secret at `path` from the backend; rejects with a `SecretError`. */
  load: (path: string) => Promise<E>;
  /** A stable text form of a value, hashed to tell whether a re-read value changed. */
  canonical: (value: E) => string;
  /** Receives errors thrown by watch listeners; default: ignored. */
  onListenerError?: (error: unknown) => void;
}

/** A TTL cache with stale-while-failing reads and polling watches, keyed by path. */
export class SecretCache<E> {
  readonly #config: SecretCacheConfig<E>;
  readonly #ttlMs: number;
  readonly #maxStaleMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry<E>>();
  readonly #inflight = new Map<string, Promise<E>>();
  readonly #watched = new Map<string, Watched>();
  #closed = false;

  /** Creates an empty cache over `config.load`. */
  constructor(config: SecretCacheConfig<E>) {
    this.#config = config;
    this.#ttlMs = config.ttlMs ?? DEFAULT_SECRET_TTL_MS;
    this.#maxStaleMs = config.maxStaleMs ?? DEFAULT_SECRET_MAX_STALE_MS;
    if (!(this.#ttlMs > 0) || !(this.#maxStaleMs >= 0)) {
      throw new TypeError('secret cache: ttlMs must be positive and maxStaleMs zero or more');
    }
    this.#now = config.now ?? Date.now;
  }

  /** The value at `path`: from memory within its TTL, else re-read (one request per path at a time). */
  async read(path: string): Promise<E> {
    const entry = this.#entries.get(path);
    const now = this.#now();
    if (entry !== undefined && (now - entry.readAt < this.#ttlMs || now < entry.retryAt)) return entry.value;
    return this.#refresh(path);
  }

  /** Calls `onChange` when a re-read (every TTL) finds a value other than the one last read. */
  watch(path: string, onChange: () => void): Unsubscribe {
    let watched = this.#watched.get(path);
    if (watched === undefined) {
      watched = { digest: this.#entries.get(path)?.digest, listeners: new Set(), timer: undefined };
      this.#watched.set(path, watched);
      // Without a value read yet, the first poll (at once) only records what is there.
      this.#schedule(path, watched, watched.digest === undefined ? 0 : this.#ttlMs);
    }
    const listener = { notify: onChange };
    watched.listeners.add(listener);
    return () => {
      const current = this.#watched.get(path);
      if (current === undefined) return;
      current.listeners.delete(listener);
      if (current.listeners.size > 0) return;
      clearTimeout(current.timer);
      this.#watched.delete(path);
    };
  }

  /** Stops every watch and forgets every value. */
  close(): void {
    this.#closed = true;
    for (const watched of this.#watched.values()) clearTimeout(watched.timer);
    this.#watched.clear();
    this.#entries.clear();
  }

  #refresh(path: string): Promise<E> {
    const inflight = this.#inflight.get(path);
    if (inflight !== undefined) return inflight;
    const reading = this.#load(path).finally(() => this.#inflight.delete(path));
    this.#inflight.set(path, reading);
    return reading;
  }

  async #load(path: string): Promise<E> {
    try {
      const value = await this.#config.load(path);
      if (!this.#closed) {
        const now = this.#now();
        this.#entries.set(path, { value, digest: this.#digest(value), readAt: now, retryAt: now });
      }
      return value;
    } catch (caught) {
      const error =
        caught instanceof SecretError
          ? caught
          : new SecretError(
              'SECRET_UNREADABLE',
              `${this.#config.provider} secret "${path}" could not be read`,
            );
      const entry = this.#entries.get(path);
      const now = this.#now();
      const servedUntil = entry === undefined ? 0 : entry.readAt + this.#ttlMs + this.#maxStaleMs;
      if (entry !== undefined && error.code === 'SECRET_UNREADABLE' && now < servedUntil) {
        entry.retryAt = Math.min(now + Math.min(this.#ttlMs, MAX_RETRY_INTERVAL_MS), servedUntil);
        this.#config.onStale?.({
          provider: this.#config.provider,
          path,
          code: error.code,
          message: error.message,
          ageMs: now - entry.readAt,
          servedUntil,
        });
        return entry.value;
      }
      this.#entries.delete(path);
      throw error;
    }
  }

  #digest(value: E): string {
    return createHash('sha256').update(this.#config.canonical(value)).digest('hex');
  }

  #schedule(path: string, watched: Watched, delayMs: number): void {
    watched.timer = setTimeout(() => void this.#poll(path, watched), delayMs);
    // A watched secret alone should not keep a finished process alive.
    watched.timer.unref();
  }

  async #poll(path: string, watched: Watched): Promise<void> {
    let digest: string;
    try {
      digest = this.#digest(await this.#refresh(path));
    } catch (error) {
      // A secret that disappeared or broke is a change too: the listener's read reports it.
      digest = `error:${error instanceof SecretError ? error.code : 'unknown'}`;
    }
    if (this.#closed || this.#watched.get(path) !== watched) return;
    const previous = watched.digest;
    watched.digest = digest;
    if (previous !== undefined && previous !== digest) {
      for (const listener of [...watched.listeners]) {
        try {
          listener.notify();
        } catch (error) {
          this.#config.onListenerError?.(error);
        }
      }
    }
    this.#schedule(path, watched, this.#ttlMs);
  }
}

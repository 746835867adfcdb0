// The auth plugin's per-process cache of what a credential stands for: for a member's access
// token, the membership's role, the user's profile (for /v1/auth/me) and that the token's session
// is not ended; for an API key, its row and that its creator is still an active member. A request
// whose entry is fresh needs no database round trip; an identity change makes every process's
// entries of the tenant stale at once through a generation counter in Redis.
import type { MembershipRole } from '@switchboard/db';
import { tenantKeyPrefix } from '@switchboard/messaging/producer';
import type { Redis } from 'ioredis';

/** What the credential check read for one member's session. */
export interface CachedMember {
  role: MembershipRole;
  email: string;
  displayName: string;
  /** The member's mail language (null: the tenant's default), answered by GET /v1/auth/me. */
  locale: string | null;
}

/** What the credential check read for one API key whose creator was an active member. */
export interface CachedApiKey {
  id: string;
  /** SHA-256 of the whole key (hashCredential): a request's key must match it. */
  keyHash: string;
  scopes: string[];
  revokedAt: Date | null;
  expiresAt: Date | null;
  /** When its use was last recorded (moved by the check when it writes it again). */
  lastUsedAt: Date | null;
}

interface Entry {
  value: CachedMember | CachedApiKey;
  /** When it was read (the cache's clock). */
  loadedAt: number;
  /** The tenant's generation read before the database was: the entry is void once it moves. */
  generation: string;
}

/** Options of CredentialCache. */
export interface CredentialCacheOptions {
  redis: Redis;
  /**
   * How long an entry is used, ms (default 10 s): the bound on how late a change that did not
   * move the generation (a row changed by hand in the database, a lost INCR) takes effect.
   */
  ttlMs?: number;
  /** Entries kept per process (default 10,000): the oldest go first. */
  maxEntries?: number;
  /** The clock (tests move it instead of waiting). */
  now?: () => number;
}

/**
 * Per-process cache of members' sessions (keyed by tenant, user and session id) and API keys
 * (keyed by tenant and key prefix). Each tenant has a generation counter in Redis
 * (`sb:<slug>:api:auth-generation`): every write that can take a credential away (a session
 * ended, a member removed or re-roled, a password reset, a key revoked) increments it before its
 * answer is sent, and an entry is used only while the counter still holds the value it was read
 * under. Reading the counter is one Redis GET per request, so a change on one API process takes
 * effect on every other one at once; when Redis cannot be read, the cache is not used (the
 * database answers), so an outage never extends a credential.
 */
export class CredentialCache {
  readonly ttlMs: number;
  private readonly redis: Redis;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(options: CredentialCacheOptions) {
    this.redis = options.redis;
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** The Redis key of a tenant's generation counter. */
  static generationKey(slug: string): string {
    return `${tenantKeyPrefix(slug)}api:auth-generation`;
  }

  /** The tenant's current generation, or undefined when Redis cannot tell (then nothing is cached). */
  async generation(slug: string): Promise<string | undefined> {
    try {
      return (await this.redis.get(CredentialCache.generationKey(slug))) ?? '0';
    } catch {
      return undefined;
    }
  }

  /**
   * The member behind a session while its entry is fresh, else `load()`'s answer, kept (a load
   * that throws keeps nothing). See {@link CredentialCache.through}.
   */
  async member(slug: string, key: string, load: () => Promise<CachedMember>): Promise<CachedMember> {
    return (await this.through(slug, key, load)) as CachedMember;
  }

  /** An API key's row (keyed by apiKeyKey) while fresh, else `load()`'s answer, kept unless undefined. */
  async apiKey(
    slug: string,
    key: string,
    load: () => Promise<CachedApiKey | undefined>,
  ): Promise<CachedApiKey | undefined> {
    return (await this.through(slug, key, load)) as CachedApiKey | undefined;
  }

  /**
   * The entry of `key` while it was read under the tenant's current generation and is younger
   * than the TTL; else what `load` reads from the database, kept under the generation read BEFORE
   * it, so an entry read while a change commits is void once the change moves the generation.
   * When Redis cannot tell the generation, nothing is used or kept.
   */
  private async through(
    slug: string,
    key: string,
    load: () => Promise<CachedMember | CachedApiKey | undefined>,
  ): Promise<CachedMember | CachedApiKey | undefined> {
    const generation = await this.generation(slug);
    const cached = generation === undefined ? undefined : this.fresh(key, generation);
    if (cached) return cached;
    const value = await load();
    if (value !== undefined && generation !== undefined) this.keep(key, generation, value);
    return value;
  }

  private fresh(key: string, generation: string): CachedMember | CachedApiKey | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.generation !== generation || this.now() - entry.loadedAt >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  private keep(key: string, generation: string, value: CachedMember | CachedApiKey): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, generation, loadedAt: this.now() });
  }

  /**
   * Makes every process's entries of the tenant stale: increments its generation, and drops this
   * process's entries so this process does not depend on Redis for it. Resolves false when Redis
   * could not be written (the change is committed by then): other processes then use their entries
   * for at most the TTL.
   */
  async invalidate(slug: string, tenantId: string): Promise<boolean> {
    for (const key of this.entries.keys()) if (key.startsWith(`${tenantId}:`)) this.entries.delete(key);
    try {
      await this.redis.incr(CredentialCache.generationKey(slug));
      return true;
    } catch {
      return false;
    }
  }

  /** The cache key of a member's session. */
  static key(tenantId: string, userId: string, sessionId: string): string {
    return `${tenantId}:${userId}:${sessionId}`;
  }

  /** The cache key of an API key (a prefix is never a UUID, so it cannot be a session's key). */
  static apiKeyKey(tenantId: string, prefix: string): string {
    return `${tenantId}:key:${prefix}`;
  }
}

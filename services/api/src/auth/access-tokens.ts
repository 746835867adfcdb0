// Checking members' access tokens (HS256 JWTs signed by this API). A token's signature and
// claims are checked once per process: the verified claims are kept, keyed by the token's whole
// text, until the token expires, so a client sending the same token on every request pays the
// HMAC (WebCrypto: an asynchronous job per call) once. Only what the signature covers is kept;
// whether the member and the session still hold is checked per request after this (CredentialCache),
// so keeping a verified token never extends a revoked credential.
import type { webcrypto } from 'node:crypto';
import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../errors.ts';

/** The claims of a verified access token (their shapes are checked by the caller). */
export type AccessTokenClaims = JWTPayload & { tid?: unknown; ten?: unknown; sid?: unknown };

/** Options of AccessTokens. */
export interface AccessTokensOptions {
  /** The HMAC key the API signs access tokens with. */
  key: webcrypto.CryptoKey;
  /** Verified tokens kept per process (default 10,000); the least recently used go first. */
  maxEntries?: number;
  /** The clock, ms (tests move it instead of waiting). */
  now?: () => number;
}

const VERIFY_OPTIONS = { algorithms: ['HS256'], issuer: 'switchboard-api', audience: 'switchboard' };

/** Verifies access tokens, each token's signature once per process while it is valid. */
export class AccessTokens {
  private readonly key: webcrypto.CryptoKey;
  private readonly now: () => number;
  private readonly verified: LRUCache<string, AccessTokenClaims & { exp: number }>;

  constructor(options: AccessTokensOptions) {
    this.key = options.key;
    this.now = options.now ?? Date.now;
    this.verified = new LRUCache({ max: options.maxEntries ?? 10_000 });
  }

  /**
   * The token's claims when its signature, algorithm, issuer, audience and expiry hold; else
   * ApiError `token_expired` (it expired: refresh it) or `unauthenticated`.
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    const kept = this.verified.get(token);
    if (kept) {
      // jose's rule: expired once `exp` is at or before the current whole second.
      if (kept.exp > Math.floor(this.now() / 1000)) return kept;
      this.verified.delete(token);
      throw expired();
    }
    let payload: AccessTokenClaims;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        ...VERIFY_OPTIONS,
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw expired();
      throw new ApiError('unauthenticated', 'the access token is not valid');
    }
    // Every token this API signs has an expiry; one without is not kept (it is checked again).
    if (typeof payload.exp === 'number') this.verified.set(token, { ...payload, exp: payload.exp });
    return payload;
  }

  /** How many verified tokens are kept (tests). */
  get size(): number {
    return this.verified.size;
  }
}

function expired(): ApiError {
  return new ApiError('token_expired', 'the access token has expired; refresh it');
}

import type { Db, MembershipRole } from '@switchboard/db';
import { Prisma, tenantIdForSlug, tenantQuery, withTenant } from '@switchboard/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { SignJWT } from 'jose';
import { AccessTokens } from '../auth/access-tokens.ts';
import { type CachedApiKey, type CachedMember, CredentialCache } from '../auth/credential-cache.ts';
import { hashCredential, parseApiKey } from '../auth/tokens.ts';
import { ApiError } from '../errors.ts';

/** API key scopes: what a system may do. */
export const SCOPES = ['read', 'send', 'manage'] as const;
/** One of SCOPES. */
export type Scope = (typeof SCOPES)[number];

/** Roles from least to most privileged. */
export const ROLE_ORDER: readonly MembershipRole[] = ['viewer', 'agent', 'admin', 'owner'];

/**
 * Who may call a route: a member with at least `role`, or an API key holding `scope`
 * (`scope` absent: members only). Every non-public route must declare one; the onRoute
 * hook below refuses to register a route that declares neither.
 */
export interface RouteAccess {
  role: MembershipRole;
  scope?: Scope;
}

/** The caller, from its credential. The tenant comes from here and nowhere else. */
export type Principal =
  | {
      kind: 'user';
      tenantId: string;
      slug: string;
      userId: string;
      role: MembershipRole;
      /**
       * The signed-in session (auth_sessions.id, the token's `sid`): always set by the auth
       * plugin; absent only in principals made outside a request (benchmarks).
       */
      sessionId?: string;
    }
  | { kind: 'api_key'; tenantId: string; slug: string; apiKeyId: string; scopes: readonly Scope[] };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; required unless `public`. */
    access?: RouteAccess;
    /** No credential needed (login, health, the Meta webhook). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** Set for every non-public route before its handler runs. */
    principal: Principal;
  }
}

/** Options of the auth plugin. */
export interface AuthPluginOptions {
  db: Db;
  jwtSigningKey: string;
  accessTokenTtlMs: number;
  /** What members' access tokens and API keys stand for, per process; invalidated through Redis. */
  credentialCache: CredentialCache;
  /**
   * Called when a request's credential is refused (before the error answer), so failed attempts
   * can be counted against the client's IP; it may throw (a 429) instead.
   */
  onAuthFailure?: (request: FastifyRequest) => Promise<void>;
}

/** Signs an access token for a member's signed-in session (HS256; the session id is claim `sid`). */
export async function signAccessToken(
  key: Uint8Array,
  claims: { userId: string; tenantId: string; slug: string; sessionId: string },
  ttlMs: number,
): Promise<string> {
  return new SignJWT({ tid: claims.tenantId, ten: claims.slug, sid: claims.sessionId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.userId)
    .setIssuedAt()
    .setIssuer('switchboard-api')
    .setAudience('switchboard')
    .setExpirationTime(new Date(Date.now() + ttlMs))
    .sign(key);
}

/** True when `role` is at least `minimum`. */
export function roleAtLeast(role: MembershipRole, minimum: MembershipRole): boolean {
  return ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(minimum);
}

/** The calling member's own profile, read with its membership by the credential check. */
export interface MemberProfile {
  email: string;
  displayName: string;
  locale: string | null;
}

const profiles = new WeakMap<FastifyRequest, MemberProfile>();

/** The calling member's email and display name as the credential check read them (members only). */
export function memberProfileOf(request: FastifyRequest): MemberProfile | undefined {
  return profiles.get(request);
}

/** Route prefixes whose writes can take a credential away (see the onSend hook below). */
const IDENTITY_ROUTES = ['/v1/team', '/v1/api-keys', '/v1/auth'];
/** Identity routes that only grant a credential. */
const GRANTING_ROUTES = new Set(['/v1/auth/login', '/v1/auth/refresh', '/v1/auth/password-reset']);
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function authenticate(
  request: FastifyRequest,
  options: AuthPluginOptions,
  accessTokens: AccessTokens,
): Promise<Principal> {
  const header = request.headers.authorization;
  const apiKeyHeader = request.headers['x-api-key'];
  const credential =
    typeof apiKeyHeader === 'string'
      ? apiKeyHeader
      : header?.startsWith('Bearer ')
        ? header.slice('Bearer '.length).trim()
        : undefined;
  if (!credential)
    throw new ApiError('unauthenticated', 'an Authorization: Bearer token or X-Api-Key header is required');

  const apiKey = parseApiKey(credential);
  if (apiKey) {
    const tenantId = tenantIdForSlug(apiKey.slug);
    const row = await apiKeyOf(options, { tenantId, slug: apiKey.slug, prefix: apiKey.prefix });
    const valid =
      row &&
      !row.revokedAt &&
      !(row.expiresAt && row.expiresAt <= new Date()) &&
      row.keyHash === hashCredential(credential);
    if (!valid)
      throw new ApiError(
        'unauthenticated',
        'the API key is unknown, revoked or expired, or its creator is no longer a member',
      );
    // Last-used is recorded at most once a minute, so a busy key does not write on every call.
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
      row.lastUsedAt = new Date();
      await withTenant(options.db, tenantId, (tx) =>
        tx.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: row.lastUsedAt } }),
      );
    }
    return {
      kind: 'api_key',
      tenantId,
      slug: apiKey.slug,
      apiKeyId: row.id,
      scopes: row.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
    };
  }

  const { sub, tid, ten, sid } = await accessTokens.verify(credential);
  if (
    typeof sub !== 'string' ||
    !UUID.test(sub) ||
    typeof tid !== 'string' ||
    typeof ten !== 'string' ||
    tenantIdForSlug(ten) !== tid
  ) {
    throw new ApiError('unauthenticated', 'the access token is not valid');
  }
  // Tokens signed before sessions existed carry no session: the client refreshes, and the refresh
  // makes its login a session.
  if (typeof sid !== 'string' || !UUID.test(sid))
    throw new ApiError('token_expired', 'the access token names no signed-in session; refresh it');
  const member = await memberOfSession(request, options, {
    tenantId: tid,
    slug: ten,
    userId: sub,
    sessionId: sid,
  });
  profiles.set(request, { email: member.email, displayName: member.displayName, locale: member.locale });
  return { kind: 'user', tenantId: tid, slug: ten, userId: sub, role: member.role, sessionId: sid };
}

/**
 * The API key with `prefix`, from the process's cache while it is fresh (CredentialCache), else
 * from the database; undefined when there is none or its creator is no longer an active member
 * (a key lives only as long as its creator is an active member; keys are made by members only).
 * The caller checks the hash, revocation and expiry on every request.
 */
async function apiKeyOf(
  options: AuthPluginOptions,
  key: { tenantId: string; slug: string; prefix: string },
): Promise<CachedApiKey | undefined> {
  const cacheKey = CredentialCache.apiKeyKey(key.tenantId, key.prefix);
  return await options.credentialCache.apiKey(key.slug, cacheKey, async () => {
    // The key and whether its creator is still an active member, in one statement.
    const [row] = await tenantQuery<CachedApiKey & { creatorActive: boolean }>(
      options.db,
      key.tenantId,
      Prisma.sql`
        SELECT k.id, k.key_hash AS "keyHash", k.scopes, k.revoked_at AS "revokedAt",
               k.expires_at AS "expiresAt", k.last_used_at AS "lastUsedAt",
               EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
                        WHERE m.user_id = k.created_by_id AND u.disabled_at IS NULL) AS "creatorActive"
          FROM api_keys k WHERE k.prefix = ${key.prefix}`,
    );
    if (!row?.creatorActive) return undefined;
    const { creatorActive: _, ...apiKey } = row;
    return apiKey;
  });
}

/** How often a session's last-seen time (and IP) is written at most: reading it needs no finer. */
export const LAST_SEEN_RESOLUTION_MS = 60_000;

/**
 * The member behind a session, from the process's cache while it is fresh (CredentialCache), else
 * from the database: the membership's role and the user's profile, with the user enabled and the
 * session not ended, read per request so a role change, a removal or an ended session takes
 * effect at once. The same statement moves the session's last-seen time and IP when it is older
 * than LAST_SEEN_RESOLUTION_MS.
 */
async function memberOfSession(
  request: FastifyRequest,
  options: AuthPluginOptions,
  who: { tenantId: string; slug: string; userId: string; sessionId: string },
): Promise<CachedMember> {
  const key = CredentialCache.key(who.tenantId, who.userId, who.sessionId);
  return await options.credentialCache.member(who.slug, key, async () => {
    const [row] = await tenantQuery<CachedMember & { sessionActive: boolean }>(
      options.db,
      who.tenantId,
      Prisma.sql`
        WITH touched AS (
          UPDATE auth_sessions SET last_seen_at = now(), ip = ${request.ip}
           WHERE id = ${who.sessionId}::uuid AND user_id = ${who.userId}::uuid AND ended_at IS NULL
             AND last_seen_at < now() - make_interval(secs => ${LAST_SEEN_RESOLUTION_MS / 1000})
          RETURNING id)
        SELECT m.role::text AS role, u.email, u.display_name AS "displayName", u.locale,
               (s.id IS NOT NULL AND s.ended_at IS NULL) AS "sessionActive"
          FROM memberships m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
          LEFT JOIN auth_sessions s ON s.tenant_id = m.tenant_id AND s.id = ${who.sessionId}::uuid AND s.user_id = m.user_id
         WHERE m.user_id = ${who.userId}::uuid AND u.disabled_at IS NULL
         LIMIT 1`,
    );
    if (!row) throw new ApiError('unauthenticated', 'the user is no longer a member of this tenant');
    if (!row.sessionActive) throw new ApiError('unauthenticated', 'this session was ended; sign in again');
    return { role: row.role, email: row.email, displayName: row.displayName, locale: row.locale };
  });
}

function authorize(principal: Principal, access: RouteAccess): void {
  if (principal.kind === 'user') {
    if (!roleAtLeast(principal.role, access.role)) {
      throw new ApiError(
        'forbidden',
        `this requires the ${access.role} role or higher; you are ${principal.role}`,
      );
    }
    return;
  }
  if (!access.scope) throw new ApiError('forbidden', 'this route is for members, not API keys');
  if (!principal.scopes.includes(access.scope)) {
    throw new ApiError('insufficient_scope', `this requires an API key with the ${access.scope} scope`);
  }
}

/**
 * Authentication and authorization for every route: refuses to register a route without
 * `config.access` or `config.public`, and before each non-public handler resolves the
 * credential to a Principal and checks the route's access.
 */
export const authPlugin = fp<AuthPluginOptions>(
  async (app: FastifyInstance, options) => {
    // Imported once: jose would import a raw key again for every token it verifies.
    const accessTokens = new AccessTokens({
      key: await crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(options.jwtSigningKey),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      ),
    });
    app.decorateRequest('principal', null as never);
    app.addHook('onRoute', (route) => {
      const config = route.config as { access?: RouteAccess; public?: boolean } | undefined;
      const internal = route.url.startsWith('/docs');
      if (!internal && !config?.public && !config?.access) {
        throw new Error(
          `route ${route.method} ${route.url} declares neither config.access nor config.public`,
        );
      }
      if (internal) route.config = { ...route.config, public: true };
    });
    app.addHook('preValidation', async (request) => {
      const config = request.routeOptions.config;
      if (config.public || !config.access) return;
      try {
        request.principal = await authenticate(request, options, accessTokens);
      } catch (error) {
        await options.onAuthFailure?.(request);
        throw error;
      }
      authorize(request.principal, config.access);
    });
    // A successful write through an identity route can take a credential away (a member removed
    // or re-roled, a session ended): every process's cached members of the caller's tenant are
    // made stale before the answer leaves, so the caller's next request already sees the change.
    // Routes that only grant (sign-in, refresh, a reset mail) change nothing cached; the public
    // ones that take away (a password set with a reset token, a logout) invalidate themselves.
    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode >= 400 || READ_METHODS.has(request.method)) return payload;
      const route = request.routeOptions.url ?? '';
      if (GRANTING_ROUTES.has(route) || !IDENTITY_ROUTES.some((prefix) => route.startsWith(prefix)))
        return payload;
      const principal = request.principal as Principal | null;
      if (principal) await options.credentialCache.invalidate(principal.slug, principal.tenantId);
      return payload;
    });
  },
  { name: 'switchboard-auth' },
);

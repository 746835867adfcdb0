import type { Db, TenantTx } from '@switchboard/db';
import { withTenant } from '@switchboard/db';
import { type MediaStorage, tenantKeyPrefix } from '@switchboard/messaging/producer';
import type { ScryptParameters } from '@switchboard/passwords';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { CredentialCache } from './auth/credential-cache.ts';
import type { TenantQueues } from './queues.ts';
import type { SearchLane } from './search-lane.ts';
import type { SsoProvider } from './sso/provider.ts';

/** A password reset token to deliver (by email, out of scope here): the hook receives it. */
export interface PasswordResetDelivery {
  tenantSlug: string;
  email: string;
  /** The single-use token; send it to the user, never log it. */
  token: string;
  expiresAt: Date;
  /** The member's language (users.locale); none: the tenant's default. */
  locale?: string | null | undefined;
}

/** A new member's invite to deliver: the hook receives it after the invite is stored. */
export interface InviteDelivery {
  email: string;
  displayName: string;
  role: string;
  /** The single-use token; send it to the member, never log it. */
  token: string;
  expiresAt: Date;
  /** The language the inviter chose, else the member's (users.locale); none: the tenant's default. */
  locale?: string | null | undefined;
}

/** A security notice to deliver (mail/security-notices.ts hands these over). */
export interface SecurityNoticeDelivery {
  kind: 'new_sign_in' | 'password_changed' | 'two_factor_changed';
  email: string;
  displayName: string;
  locale?: string | null | undefined;
  at: Date;
  ip?: string | undefined;
  device?: string | undefined;
  change?: 'enabled' | 'disabled' | 'recovery_codes_renewed' | undefined;
}

/** What every route group shares, decorated on the app as `app.sb`. */
export interface ApiContext {
  db: Db;
  redis: Redis;
  /** The configured tenant: the default of a login and whose row is ensured at start. */
  defaultTenant: string;
  jwtKey: Uint8Array;
  accessTokenTtlMs: number;
  /** Sessions and API keys as the auth plugin read them; made stale after a session ends. */
  credentialCache: CredentialCache;
  refreshTokenTtlMs: number;
  passwordResetTtlMs: number;
  loginMaxFailures: number;
  loginLockoutMs: number;
  scrypt: ScryptParameters;
  onPasswordReset: (delivery: PasswordResetDelivery) => Promise<void> | void;
  /** Called with every team invite once stored; must not block (the answer waits for it). */
  onInvite: (delivery: InviteDelivery) => void;
  /** Called with every security notice; must not block. */
  onSecurityNotice: (delivery: SecurityNoticeDelivery) => void;
  /** The queues routes add jobs to (outbound, session commands), shared and closed with the app. */
  queues: TenantQueues;
  /** Where media files are kept (uploads, fetched inbound media), when configured. */
  mediaStorage: MediaStorage | undefined;
  /** WEBHOOK_ALLOWED_HOSTS: receiver hosts allowed although internal (lower case). */
  webhookAllowedHosts: ReadonlySet<string>;
  /** DATABASE_SEARCH_CONCURRENCY: how many conversation searches run at once. */
  searchLane: SearchLane;
  /** The tenant's OpenID Connect provider (SSO_*), when single sign-on is set up. */
  sso?: SsoProvider | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared context (db, redis, settings). */
    sb: ApiContext;
    /** Every registered route (method, url, public), in registration order. */
    routeList: { method: string; url: string; public: boolean }[];
  }
}

/** Runs `fn` scoped (RLS) to the caller's tenant. */
export function tenantTx<T>(
  ctx: ApiContext,
  request: FastifyRequest,
  fn: (tx: TenantTx) => Promise<T>,
): Promise<T> {
  return withTenant(ctx.db, request.principal.tenantId, fn);
}

/** The caller's Redis key prefix (`sb:<slug>:`). */
export function keyPrefixOf(request: FastifyRequest): string {
  return tenantKeyPrefix(request.principal.slug);
}

/** The audit actor of the caller. */
export function actorOf(request: FastifyRequest): { actorType: 'user' | 'api_key'; actorId: string } {
  const p = request.principal;
  return p.kind === 'user'
    ? { actorType: 'user', actorId: p.userId }
    : { actorType: 'api_key', actorId: p.apiKeyId };
}

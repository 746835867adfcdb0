// Signing in with the tenant's OpenID Connect provider: the start (an authorization request whose
// state, nonce and PKCE verifier wait in Redis, bound to the browser by a cookie), the finish
// (state checked and spent, code exchanged, ID token verified, the member found, linked or
// provisioned, tokens issued).
import { createHash, randomBytes } from 'node:crypto';
import { tenantIdForSlug, withTenant } from '@switchboard/db';
import { tenantKeyPrefix } from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import type { ApiContext } from '../context.ts';
import { completeSignIn, noteNewSignIn, type TokenPair } from '../services/auth.ts';
import { recordSso } from './audit.ts';
import { SsoError, type SsoErrorCode } from './errors.ts';
import type { SsoProvider, VerifiedIdentity } from './provider.ts';

/** How long a started sign-in may take at the provider before its state expires. */
export const SSO_STATE_TTL_MS = 10 * 60_000;

/** What the API keeps of a started sign-in until its callback. */
interface PendingSignIn {
  nonce: string;
  codeVerifier: string;
  /** sha256 of the browser's binding cookie. */
  binding: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

function stateKey(ctx: ApiContext, state: string): string {
  // Hashed: a key listing shows no state a callback could be forged with.
  return `${tenantKeyPrefix(ctx.defaultTenant)}api:sso:state:${sha256(state)}`;
}

/** The configured provider, or the refusal to use one. */
export function providerOf(ctx: ApiContext): SsoProvider {
  if (!ctx.sso) throw new SsoError('sso_not_configured', 'single sign-on is not set up for this tenant');
  return ctx.sso;
}

/**
 * Starts a sign-in: the provider's authorization URL to send the browser to, and the binding
 * value to set as an httpOnly cookie (the callback must come from the browser that started).
 */
export async function startSsoSignIn(ctx: ApiContext): Promise<{ url: string; binding: string }> {
  const provider = providerOf(ctx);
  const request = await provider.authorizationRequest();
  const binding = randomBytes(32).toString('base64url');
  const pending: PendingSignIn = {
    nonce: request.nonce,
    codeVerifier: request.codeVerifier,
    binding: sha256(binding),
  };
  await ctx.redis.set(stateKey(ctx, request.state), JSON.stringify(pending), 'PX', SSO_STATE_TTL_MS);
  return { url: request.url.toString(), binding };
}

/** Refuses the sign-in: an `sso.refused` entry with the reason, then the error. */
async function refuse(
  ctx: ApiContext,
  code: SsoErrorCode,
  message: string,
  details: { issuer?: string; subject?: string; email?: string | undefined; userId?: string },
): Promise<never> {
  await recordSso(ctx, 'sso.refused', details.userId, {
    reason: code,
    ...(details.issuer ? { issuer: details.issuer } : {}),
    ...(details.subject ? { subject: details.subject } : {}),
    ...(details.email ? { email: details.email } : {}),
  });
  throw new SsoError(code, message);
}

/**
 * Finishes a sign-in from the callback's query string and the browser's binding cookie. The
 * state is spent first (single use, whatever follows), then the code is exchanged and the ID token
 * verified; the member is the one linked to the token's issuer and subject, else the member of its
 * verified address (linked now), else a new member when the tenant provisions them.
 */
export async function finishSsoSignIn(
  ctx: ApiContext,
  input: { query: string; binding: string | undefined },
  request: FastifyRequest,
): Promise<TokenPair> {
  const provider = providerOf(ctx);
  const query = new URLSearchParams(input.query.startsWith('?') ? input.query.slice(1) : input.query);
  const state = query.get('state');
  if (!state) throw new SsoError('sso_state_invalid', 'the callback has no state parameter; start again');
  const stored = await ctx.redis.getdel(stateKey(ctx, state));
  if (!stored) {
    throw new SsoError(
      'sso_state_invalid',
      'this sign-in is unknown, expired or already used (the state does not match one this API started); start again',
    );
  }
  const pending = JSON.parse(stored) as PendingSignIn;
  if (!input.binding || sha256(input.binding) !== pending.binding) {
    await refuse(ctx, 'sso_state_invalid', 'this sign-in was started in another browser; start again', {});
  }
  let identity: VerifiedIdentity;
  try {
    identity = await provider.exchange(query, {
      state,
      nonce: pending.nonce,
      codeVerifier: pending.codeVerifier,
    });
  } catch (error) {
    if (error instanceof SsoError && error.code !== 'sso_provider_unavailable')
      await refuse(ctx, error.code as SsoErrorCode, error.message, {});
    throw error;
  }
  return await signInIdentity(ctx, request, provider.settings, identity);
}

/** What finishing needs of the settings. */
type MemberPolicy = Pick<SsoProvider['settings'], 'allowedDomains' | 'autoProvision' | 'defaultRole'>;

async function signInIdentity(
  ctx: ApiContext,
  request: FastifyRequest,
  policy: MemberPolicy,
  identity: VerifiedIdentity,
): Promise<TokenPair> {
  const { issuer, subject } = identity;
  const who = { issuer, subject, email: identity.email };
  // Every sign-in, linked or not, needs an address the provider verified, in an allowed domain.
  if (!identity.email || !identity.emailVerified) {
    return await refuse(
      ctx,
      'sso_email_unverified',
      identity.email
        ? `the identity provider has not verified ${identity.email} (email_verified is not true)`
        : 'the identity provider gave no email address (the email scope was not granted)',
      who,
    );
  }
  const email = identity.email;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (policy.allowedDomains.length > 0 && !policy.allowedDomains.includes(domain)) {
    return await refuse(
      ctx,
      'sso_domain_not_allowed',
      `addresses at ${domain} may not sign in to this tenant (allowed: ${policy.allowedDomains.join(', ')})`,
      who,
    );
  }
  const tenant = { id: tenantIdForSlug(ctx.defaultTenant), slug: ctx.defaultTenant };
  const outcome = await withTenant(ctx.db, tenant.id, async (tx) => {
    const linked = await tx.ssoIdentity.findUnique({
      where: { tenantId_issuer_subject: { tenantId: tenant.id, issuer, subject } },
      include: { user: { include: { memberships: true } } },
    });
    let userId: string;
    if (linked) {
      const user = linked.user;
      if (user.disabledAt || user.memberships.length === 0)
        return {
          kind: 'refused' as const,
          refused: 'sso_not_a_member' as const,
          userId: user.id,
          message: 'this member was removed or disabled',
        };
      await tx.ssoIdentity.update({ where: { id: linked.id }, data: { email, lastSignInAt: new Date() } });
      userId = user.id;
    } else {
      const user = await tx.user.findFirst({
        where: { email },
        include: { memberships: true, ssoIdentities: { where: { issuer } } },
      });
      if (user) {
        if (user.disabledAt || user.memberships.length === 0)
          return {
            kind: 'refused' as const,
            refused: 'sso_not_a_member' as const,
            userId: user.id,
            message: `${email} is no longer a member of this tenant (removed or disabled); ask an admin for an invite`,
          };
        if (user.ssoIdentities.length > 0)
          return {
            kind: 'refused' as const,
            refused: 'sso_identity_conflict' as const,
            userId: user.id,
            message: `${email} is already linked to another account at this identity provider (a reassigned mailbox?); this account may not sign in as that member`,
          };
        await tx.ssoIdentity.create({
          data: { tenantId: tenant.id, userId: user.id, issuer, subject, email },
        });
        await recordSso(ctx, 'sso.linked', user.id, { issuer, subject, email }, tx);
        userId = user.id;
      } else {
        if (!policy.autoProvision)
          return {
            kind: 'refused' as const,
            refused: 'sso_not_a_member' as const,
            userId: undefined,
            message: `${email} is not a member of this tenant and it does not add members at their first SSO sign-in; ask an admin for an invite`,
          };
        const created = await tx.user.create({
          data: { tenantId: tenant.id, email, displayName: displayNameOf(identity.name, email) },
        });
        await tx.membership.create({
          data: { tenantId: tenant.id, userId: created.id, role: policy.defaultRole },
        });
        await tx.ssoIdentity.create({
          data: { tenantId: tenant.id, userId: created.id, issuer, subject, email },
        });
        await recordSso(
          ctx,
          'sso.provisioned',
          created.id,
          { issuer, subject, email, role: policy.defaultRole },
          tx,
        );
        userId = created.id;
      }
    }
    const tokens = await completeSignIn(ctx, request, tx, {
      tenant,
      userId,
      method: 'sso',
      methodDetails: { issuer, subject },
    });
    return { kind: 'ok' as const, userId, tokens };
  });
  if (outcome.kind === 'refused') {
    return await refuse(ctx, outcome.refused, outcome.message, {
      ...who,
      ...(outcome.userId ? { userId: outcome.userId } : {}),
    });
  }
  noteNewSignIn(ctx, request, { tenantId: tenant.id, userId: outcome.userId });
  return outcome.tokens;
}

/** The display name of a provisioned member: the token's name, else the address's local part. */
function displayNameOf(name: string | undefined, email: string): string {
  const trimmed = name?.trim().slice(0, 200);
  return trimmed || email.slice(0, email.lastIndexOf('@'));
}

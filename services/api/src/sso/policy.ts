import type { ApiContext } from '../context.ts';
import { recordSso } from './audit.ts';
import { SsoError } from './errors.ts';

/**
 * The ssoOnly policy, checked by password sign-in after the password was found right: members
 * are refused (audited as `sso.refused`); owners pass, so a broken provider never locks the
 * tenant out (their break-glass access).
 */
export async function assertPasswordSignInAllowed(
  ctx: ApiContext,
  user: { id: string; memberships: readonly { role: string }[] },
): Promise<void> {
  if (!ctx.sso?.settings.ssoOnly) return;
  if (user.memberships.some((membership) => membership.role === 'owner')) return;
  await recordSso(ctx, 'sso.refused', user.id, { reason: 'sso_required', method: 'password' });
  throw new SsoError(
    'sso_required',
    'this tenant signs in with single sign-on only; use "Sign in with SSO" (owners may still use their password)',
  );
}

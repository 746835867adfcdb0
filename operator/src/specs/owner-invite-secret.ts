import type { V1Secret } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { publicUrl } from './config-map.ts';
import { childNames } from './names.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * The Secret with the first owner's invite link (spec.owner.email), `<tenant>-owner-invite`,
 * which the platform team reads and hands to the owner:
 *
 *   kubectl get secret "$(kubectl get wat acme -o jsonpath='{.status.ownerInvite.secretName}')" \
 *     -o jsonpath='{.data.url}' | base64 -d
 *
 * It exists only while the invite is open: the operator deletes it once the owner has set a
 * password. The token is in the URL's fragment (#token=...), which browsers never send to a
 * server, so it stays out of the ingress's access logs.
 */

/** Keys of the owner invite Secret. */
export const OWNER_INVITE_KEYS = {
  /** The link to open: <inbox>/accept-invite#token=<token> (a path alone when the tenant has no ingress). */
  url: 'url',
  /** The address invited. */
  email: 'email',
  /** When the link stops working (RFC 3339); a new one replaces it then. */
  expiresAt: 'expiresAt',
} as const;

/** The accept-invite link for `token`: on the tenant's ingress host, or a path when it has none. */
export function ownerInviteUrl(tenant: WhatsAppTenant, token: string): string {
  return `${publicUrl(tenant) ?? ''}/accept-invite#token=${encodeURIComponent(token)}`;
}

/** The owner invite Secret. */
export function buildOwnerInviteSecret(
  tenant: WhatsAppTenant,
  invite: { email: string; token: string; expiresAt: string },
): V1Secret {
  const values = {
    [OWNER_INVITE_KEYS.url]: ownerInviteUrl(tenant, invite.token),
    [OWNER_INVITE_KEYS.email]: invite.email,
    [OWNER_INVITE_KEYS.expiresAt]: invite.expiresAt,
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: childMetadata(tenant, childNames(tenant).ownerInvite, 'config'),
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(values).map(([key, value]) => [key, Buffer.from(value, 'utf8').toString('base64')]),
    ),
  };
}

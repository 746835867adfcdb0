import type { V1Secret } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import type { KubeClient } from '../kube/kube-client.ts';
import type { ObjectReader } from '../kube/object-cache.ts';
import { GENERATED_SECRET_KEYS } from '../specs/generated-secret.ts';
import { childNames, tenantNamespace } from '../specs/names.ts';
import { buildOwnerInviteSecret, OWNER_INVITE_KEYS } from '../specs/owner-invite-secret.ts';
import type { EventRecorder } from './events.ts';
import { secretValue } from './platform-database.ts';
import { type TenantApi, TenantApiError } from './tenant-api.ts';
import { declaredSessions, type OwnerInviteStatus, type SessionsObservation } from './tenant-status.ts';

/**
 * What the reconcile learns from the tenant's own API once an API pod is ready: the declared
 * sessions' states (the Sessions column, SessionsHealthy) and the first owner's invite
 * (spec.owner). The API is asked on every reconcile of a running tenant, and the reconcile asks
 * to run again after `pollMs`: sessions connect and drop without any Kubernetes event.
 */

/** Default time between two reads of a running tenant's API. */
export const DEFAULT_TENANT_API_POLL_MS = 30_000;

/** An open invite is replaced this long before it expires, so the link read from the Secret still works. */
export const OWNER_INVITE_RENEW_BEFORE_MS = 3_600_000;

/** What observeTenantApi found. */
export interface TenantApiObservation {
  sessions: SessionsObservation;
  ownerInvite?: OwnerInviteStatus;
  /** When to ask again (running tenants only). */
  requeueAfter?: number;
}

/** What observeTenantApi works with. */
export interface TenantApiObservationOptions {
  client: KubeClient;
  reader: ObjectReader;
  api: TenantApi;
  events: EventRecorder;
  now: () => Date;
  pollMs: number;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Asks the tenant's API for its sessions and owner, and keeps the owner invite Secret in step.
 * `apiReady`: an API pod of a migrated version is available (otherwise nothing is asked).
 */
export async function observeTenantApi(
  options: TenantApiObservationOptions,
  tenant: WhatsAppTenant,
  generated: V1Secret,
  apiReady: boolean,
): Promise<TenantApiObservation> {
  const previousInvite = tenant.status?.ownerInvite;
  const kept = previousInvite ? { ownerInvite: previousInvite } : {};
  if (tenant.spec.suspend) {
    return {
      sessions: { reported: false, reason: 'Suspended', message: 'Suspended: no worker runs the sessions.' },
      ...kept,
    };
  }
  if (!apiReady) {
    return {
      sessions: {
        reported: false,
        reason: 'WaitingForApi',
        message: 'No API pod is ready to report the sessions yet.',
      },
      ...kept,
    };
  }
  const token = secretValue(generated, GENERATED_SECRET_KEYS.internalToken) ?? '';
  let reported: Awaited<ReturnType<TenantApi['status']>>;
  try {
    reported = await options.api.status(tenant, token);
  } catch (error) {
    if (!(error instanceof TenantApiError)) throw error;
    return {
      sessions: {
        reported: false,
        reason: 'StatusUnavailable',
        message: `The tenant API did not report its sessions: ${describe(error)}`,
      },
      ...kept,
      requeueAfter: options.pollMs,
    };
  }
  const sessions: SessionsObservation = {
    reported: true,
    declared: declaredSessions(
      tenant.spec.sessions.map((s) => s.name),
      reported,
    ),
  };
  try {
    const invite = await reconcileOwnerInvite(options, tenant, token, reported.owner.active);
    const renewIn =
      invite?.expiresAt && !invite.accepted
        ? Date.parse(invite.expiresAt) - OWNER_INVITE_RENEW_BEFORE_MS - options.now().getTime()
        : Number.POSITIVE_INFINITY;
    return {
      sessions,
      ...(invite ? { ownerInvite: invite } : {}),
      requeueAfter: Math.max(1_000, Math.min(options.pollMs, renewIn)),
    };
  } catch (error) {
    if (!(error instanceof TenantApiError)) throw error;
    // The sessions were read; the invite is tried again with the next poll.
    void options.events.warning(
      tenant,
      'OwnerInviteFailed',
      `Could not invite the owner: ${describe(error)}`,
    );
    return { sessions, ...kept, requeueAfter: options.pollMs };
  }
}

/**
 * The owner invite Secret, in step with spec.owner and the API: absent without spec.owner or
 * once an owner can sign in; otherwise a link that is not about to expire, for the spec's email.
 */
async function reconcileOwnerInvite(
  options: TenantApiObservationOptions,
  tenant: WhatsAppTenant,
  token: string,
  ownerActive: boolean,
): Promise<OwnerInviteStatus | undefined> {
  const namespace = tenantNamespace(tenant);
  const name = childNames(tenant).ownerInvite;
  const existing = await options.reader.get<V1Secret>('v1', 'Secret', namespace, name);
  const owner = tenant.spec.owner;
  const accepted = async (email: string): Promise<OwnerInviteStatus> => {
    if (existing) await options.client.delete('v1', 'Secret', namespace, name);
    if (tenant.status?.ownerInvite?.accepted !== true) {
      void options.events.normal(
        tenant,
        'OwnerSignedUp',
        `The owner ${email} has set a password; the invite is gone.`,
      );
    }
    return { email, accepted: true };
  };
  if (!owner) {
    if (existing) await options.client.delete('v1', 'Secret', namespace, name);
    return undefined;
  }
  const email = owner.email.toLowerCase();
  // Once an owner can sign in nothing is made again, whatever the spec says later.
  if (ownerActive) return await accepted(email);
  const openFor = secretValue(existing, OWNER_INVITE_KEYS.email);
  const expiresAt = secretValue(existing, OWNER_INVITE_KEYS.expiresAt);
  const now = options.now().getTime();
  if (
    existing &&
    openFor === email &&
    expiresAt !== undefined &&
    Date.parse(expiresAt) - OWNER_INVITE_RENEW_BEFORE_MS > now
  ) {
    return { email, accepted: false, secretName: name, expiresAt: statusTime(expiresAt) };
  }
  const invite = await options.api.ownerInvite(tenant, token, email);
  // 409 owner_exists: the owner signed up since the status was read.
  if (!invite) return await accepted(email);
  await options.client.apply(buildOwnerInviteSecret(tenant, invite));
  void options.events.normal(
    tenant,
    'OwnerInvited',
    `${existing ? 'Renewed the invite' : 'Invited'} ${email}: the link is in Secret ${name} (key url) until ${invite.expiresAt}.`,
  );
  return { email, accepted: false, secretName: name, expiresAt: statusTime(invite.expiresAt) };
}

/** A time as the status spells times (RFC 3339, whole seconds, like lastTransitionTime). */
function statusTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

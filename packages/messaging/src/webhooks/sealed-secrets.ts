import { type Db, withTenant } from '@switchboard/db';
import { WEBHOOK_SECRET_PURPOSE } from '../contracts.ts';
import type { SubscriptionSecretSource } from './delivery-worker.ts';

/**
 * Webhook signing secrets sealed in the database (`secret_ciphertext`) with the tenant's
 * SEALING_KEYS keyring: opened for a delivery with whichever key of the ring sealed them, and
 * re-sealed with the current key after a rotation, so the old key can be dropped.
 */

/**
 * What this module needs of @switchboard/secrets' SealingKeyring (structural, so the package
 * needs no dependency on it).
 */
export interface SealingKeyring {
  open(sealed: Uint8Array, purpose: string): string;
  needsReseal(sealed: Uint8Array): boolean;
  reseal(sealed: Uint8Array, purpose: string): Uint8Array;
}

/** Options for {@link subscriptionSecretResolver}. */
export interface SubscriptionSecretResolverOptions {
  /** Opens `secretCiphertext`; without it only `secretRef` subscriptions can be delivered. */
  keyring?: SealingKeyring | undefined;
  /** Resolves a subscription's `secretRef` (`secret://...`). */
  resolveReference: (reference: string) => Promise<string>;
}

/** The `resolveSecret` of a WebhookDeliveryWorker: the provider's value, or the sealed one opened. */
export function subscriptionSecretResolver(
  options: SubscriptionSecretResolverOptions,
): (subscription: SubscriptionSecretSource) => Promise<string> {
  return async (subscription) => {
    if (subscription.secretRef) return await options.resolveReference(subscription.secretRef);
    if (subscription.secretCiphertext && options.keyring)
      return options.keyring.open(subscription.secretCiphertext, WEBHOOK_SECRET_PURPOSE);
    throw new Error(
      `webhook subscription ${subscription.id} has no secret this worker can read (SEALING_KEYS unset?)`,
    );
  };
}

/** What {@link resealWebhookSecrets} did. */
export interface ResealResult {
  /** Sealed with the current key now. */
  resealed: number;
  /** Already under the current key. */
  current: number;
  /** No key of the ring (nor INTERNAL_TOKEN) opens them: the old key must stay until they are fixed. */
  unreadable: string[];
}

/**
 * Re-seals every subscription secret of `tenantId` not sealed with the keyring's current key
 * (an older key, or INTERNAL_TOKEN before SEALING_KEYS). Each row is replaced only if it still
 * holds the value that was read (compare-and-set), so concurrent runs (every worker runs it at
 * start) and a secret rotated meanwhile are safe. Once it reports nothing `unreadable` and no
 * `resealed` left on a second run, the keys after the first can be removed from SEALING_KEYS.
 */
export async function resealWebhookSecrets(
  db: Db,
  tenantId: string,
  keyring: SealingKeyring,
): Promise<ResealResult> {
  const rows = await withTenant(db, tenantId, (tx) =>
    tx.webhookSubscription.findMany({
      where: { secretCiphertext: { not: null } },
      select: { id: true, secretCiphertext: true },
    }),
  );
  const result: ResealResult = { resealed: 0, current: 0, unreadable: [] };
  for (const row of rows) {
    const sealed = row.secretCiphertext!;
    if (!keyring.needsReseal(sealed)) {
      result.current++;
      continue;
    }
    let resealed: Uint8Array;
    try {
      resealed = keyring.reseal(sealed, WEBHOOK_SECRET_PURPOSE);
    } catch {
      result.unreadable.push(row.id);
      continue;
    }
    const { count } = await withTenant(db, tenantId, (tx) =>
      tx.webhookSubscription.updateMany({
        where: { id: row.id, secretCiphertext: { equals: sealed } },
        data: { secretCiphertext: resealed as Uint8Array<ArrayBuffer> },
      }),
    );
    // 0: another worker re-sealed it first, or the secret was rotated: either way it is current.
    if (count === 1) result.resealed++;
    else result.current++;
  }
  return result;
}

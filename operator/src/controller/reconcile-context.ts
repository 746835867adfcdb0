import type { KubeClient } from '../kube/kube-client.ts';
import type { ObjectReader } from '../kube/object-cache.ts';
import type { OperatorConfig } from '../specs/operator-config.ts';
import type { EventRecorder } from './events.ts';

/**
 * What the steps of a tenant's reconcile share (TenantReconciler builds it once from its
 * options): the client that writes, the informer caches that read, the operator's configuration,
 * the Events, the clock and the platform Postgres.
 */
export interface ReconcileContext {
  /** Writes, and reads of what no informer holds (the tenant's own Secrets). */
  client: KubeClient;
  /** Reads of the tenant and its children: the informer caches, or the client. */
  reader: ObjectReader;
  config: OperatorConfig;
  /** Sent without waiting (best effort): the recorder reports its failures, never rejects. */
  events: EventRecorder;
  /** Clock, for condition transition times and the owner invite's expiry. */
  now: () => Date;
  /** The platform Postgres admin URL for managed databases; undefined when none is configured. */
  platformDatabaseUrl: () => Promise<string | undefined>;
}

/** What a reconcile asks of the work queue. */
export interface ReconcileResult {
  /**
   * Run again after this long even without an event: a deletion waiting for operator
   * configuration, or a running tenant whose API is read again for its sessions.
   */
  requeueAfter?: number;
}

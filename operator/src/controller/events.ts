import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import type { KubeClient } from '../kube/kube-client.ts';

/**
 * Kubernetes Events on a tenant, for what a human should know (`kubectl describe wat acme`):
 * a database provisioned, a migration started or failed, the tenant becoming Ready. Callers
 * emit on transitions only, so a steady state records nothing.
 */

/** Records Events about tenants. */
export interface EventRecorder {
  /** Something worth knowing happened. */
  normal(tenant: WhatsAppTenant, reason: string, message: string): Promise<void>;
  /** Something needs attention. */
  warning(tenant: WhatsAppTenant, reason: string, message: string): Promise<void>;
}

/** Options for KubeEventRecorder. */
export interface KubeEventRecorderOptions {
  client: KubeClient;
  /** `source.component` and `reportingComponent`. */
  component: string;
  /** This replica's name, as `reportingInstance`. */
  instance: string;
  /** Failures to record are logged, never thrown: an Event is not worth failing a reconcile. */
  onError?: (error: unknown) => void;
  now?: () => Date;
}

/** Writes core/v1 Events through the API server. */
export class KubeEventRecorder implements EventRecorder {
  private readonly options: KubeEventRecorderOptions;

  constructor(options: KubeEventRecorderOptions) {
    this.options = options;
  }

  async normal(tenant: WhatsAppTenant, reason: string, message: string): Promise<void> {
    await this.record(tenant, 'Normal', reason, message);
  }

  async warning(tenant: WhatsAppTenant, reason: string, message: string): Promise<void> {
    await this.record(tenant, 'Warning', reason, message);
  }

  private async record(tenant: WhatsAppTenant, type: string, reason: string, message: string): Promise<void> {
    const time = (this.options.now?.() ?? new Date()).toISOString();
    const namespace = tenant.metadata.namespace!;
    const event: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${tenant.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: {
        apiVersion: tenant.apiVersion,
        kind: tenant.kind,
        name: tenant.metadata.name,
        namespace,
        uid: tenant.metadata.uid,
        resourceVersion: tenant.metadata.resourceVersion,
      },
      type,
      reason,
      // The API server caps an Event message at 1 KiB.
      message: message.slice(0, 1024),
      source: { component: this.options.component },
      reportingComponent: this.options.component,
      reportingInstance: this.options.instance,
      firstTimestamp: time as unknown as Date,
      lastTimestamp: time as unknown as Date,
      count: 1,
    };
    try {
      await this.options.client.create(event);
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

import type { KubeConfig } from '@kubernetes/client-node';
import { apiRequest, statusCodeOf } from './api-request.ts';
import { LeaderElectionConfigError } from './errors.ts';
import { type RuntimeLogger, silentLogger, withFields } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

/** Options for `LeaderElector`. */
export interface LeaderElectorOptions {
  /** Credentials and server; needs get, create and update on leases in `namespace`. */
  kubeConfig: KubeConfig;
  /** Namespace of the Lease (the operator's own). */
  namespace: string;
  /** Name of the Lease, shared by every replica. */
  name: string;
  /** This replica's identity, unique among candidates: the pod name. */
  identity: string;
  /**
   * How long a lease holds without renewal before a standby may take it; default 15 s. A
   * standby waits this long after a leader crashed, so it trades failover time against
   * false failovers on a slow API server.
   */
  leaseDurationMs?: number;
  /**
   * The leader steps down when it could not renew for this long; default 10 s. Shorter
   * than the lease, so the old leader has stopped before any standby may start: the 5 s
   * between them absorb request latency and clock skew between nodes.
   */
  renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew; default 2 s. */
  retryPeriodMs?: number;
  /** Clear the holder on `stop()` so a standby takes over at once; default true. */
  releaseOnStop?: boolean;
  /**
   * Longest `stop()` waits for the promise `onStartedLeading` returned (the controllers
   * draining) before it releases the Lease anyway; default 30 s.
   */
  shutdownTimeoutMs?: number;
  /**
   * Runs when this replica becomes leader; `signal` aborts when leadership ends (lost or
   * stopped). A returned promise is awaited by `stop()` before the Lease is released, so
   * in-flight work finishes while this replica still holds it.
   */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Runs once when leadership ends, lost or stopped; not called if it never led. */
  onStoppedLeading?: () => void;
  /** Runs when the observed holder changes (including to this replica). */
  onNewLeader?: (identity: string) => void;
  /** Structured logger; silent by default. */
  logger?: RuntimeLogger;
  /** Sets the held-leases gauge. */
  metrics?: OperatorMetrics;
}

/** The wire form of a coordination.k8s.io/v1 Lease (MicroTime fields are strings). */
interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** What `stop` may be told. */
export interface LeaderElectorStopOptions {
  /** Override `releaseOnStop`; `false` simulates a crash (the Lease is left to expire). */
  release?: boolean;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's leaderelection
 * semantics: a candidate acquires the Lease when it is free (no holder) or expired (the
 * holder's renewTime + leaseDurationSeconds has passed), bumping leaseTransitions; the
 * leader renews every retry period and steps down when it could not renew for the renew
 * deadline; every write carries the resourceVersion it read, so two candidates racing
 * for an expired Lease cannot both win. After losing leadership the elector is done; the
 * process should exit and start afresh, as controller-runtime's manager does.
 */
export class LeaderElector {
  private readonly options: LeaderElectorOptions;
  private readonly logger: RuntimeLogger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly path: string;
  private lease: LeaseObject | undefined;
  private observedHolder: string | undefined;
  private leading = false;
  private started = false;
  private stopRequested = false;
  private renewStopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private leadingController: AbortController | undefined;
  private leadingWork: Promise<void> | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  /** Checks the timings (throws `LeaderElectionConfigError`); nothing happens until `start`. */
  constructor(options: LeaderElectorOptions) {
    this.options = options;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    // client-go's checks: the leader must give up before its Lease can be taken, and must
    // get more than one attempt (with jitter) to renew before it gives up.
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new LeaderElectionConfigError('leaseDurationMs must be greater than renewDeadlineMs');
    }
    if (this.renewDeadlineMs <= this.retryPeriodMs * 1.2) {
      throw new LeaderElectionConfigError('renewDeadlineMs must be greater than 1.2 * retryPeriodMs');
    }
    if (this.retryPeriodMs <= 0) throw new LeaderElectionConfigError('retryPeriodMs must be positive');
    if (!options.identity) throw new LeaderElectionConfigError('identity must not be empty');
    this.logger = withFields(options.logger ?? silentLogger, {
      lease: `${options.namespace}/${options.name}`,
      identity: options.identity,
    });
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/leases`;
  }

  /** Starts campaigning in the background; a no-op when already started or stopped. */
  start(): void {
    if (this.started || this.stopRequested) return;
    this.started = true;
    this.options.metrics?.leading(this.options.name, false);
    this.loop = this.run();
  }

  /** Whether this replica holds the Lease right now. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder last seen on the Lease (possibly this replica), if any. */
  leader(): string | undefined {
    return this.observedHolder || undefined;
  }

  /**
   * Stops campaigning. As leader: aborts the leading signal, waits for the work
   * `onStartedLeading` returned (still renewing meanwhile), stops renewing, clears the
   * holder unless told not to, and calls `onStoppedLeading`.
   */
  stop(options: LeaderElectorStopOptions = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.release ?? this.options.releaseOnStop ?? true);
    return this.stopping;
  }

  private async shutdown(release: boolean): Promise<void> {
    this.stopRequested = true;
    if (this.leading) {
      this.leadingController?.abort();
      const timeoutMs = this.options.shutdownTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.leadingWork,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this.logger.warn({ timeoutMs }, 'leader work did not finish in time; releasing anyway');
            resolve();
          }, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.renewStopped = true;
    this.wake?.();
    await this.loop;
    if (release && this.lease?.spec?.holderIdentity === this.options.identity) await this.release();
    this.endLeadership('stopped');
  }

  private async run(): Promise<void> {
    while (!this.stopRequested) {
      if (await this.attempt()) break;
      if (this.stopRequested) return;
      // A little jitter so candidates that started together do not collide every time.
      await this.sleep(this.retryPeriodMs * (1 + 0.2 * Math.random()));
    }
    // Stopped while acquiring: `shutdown` releases what the last attempt may have taken.
    if (this.stopRequested) return;
    this.beginLeadership();
    while (this.leading && !this.renewStopped) {
      await this.sleep(this.retryPeriodMs);
      if (!this.leading || this.renewStopped) break;
      if (await this.attempt()) {
        this.armDeadline();
      } else if (this.observedHolder && this.observedHolder !== this.options.identity) {
        // Someone else holds it: our renewals stopped long enough for it to expire.
        this.logger.warn({ holder: this.observedHolder }, 'lease taken by another candidate');
        this.endLeadership('lost');
      }
    }
  }

  /** One try to acquire or renew; false when held by another, lost a race, or failed. */
  private async attempt(): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew();
    } catch (error) {
      this.logger.warn({ err: error }, 'acquiring or renewing the lease failed');
      return false;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, name, namespace, kubeConfig } = this.options;
    const timeoutMs = this.renewDeadlineMs;
    const now = Date.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let current: LeaseObject;
    try {
      current = await apiRequest<LeaseObject>(kubeConfig, {
        path: `${this.path}/${encodeURIComponent(name)}`,
        timeoutMs,
      });
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
      const created: LeaseObject = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.lease = await apiRequest<LeaseObject>(kubeConfig, {
          method: 'POST',
          path: this.path,
          body: created,
          timeoutMs,
        });
      } catch (createError) {
        if (statusCodeOf(createError) === 409) return false; // another candidate created it first
        throw createError;
      }
      this.observe(identity);
      return true;
    }

    this.lease = current;
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    this.observe(holder);
    const renewedAt = parseMicroTime(spec.renewTime);
    const expiresAt = renewedAt === undefined ? 0 : renewedAt + (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== '' && holder !== identity && expiresAt > now) return false;

    const ours = holder === identity;
    const next: LeaseObject = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: microTime(now),
        acquireTime: ours ? (spec.acquireTime ?? microTime(now)) : microTime(now),
        leaseTransitions: ours ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      // PUT with the resourceVersion just read: if anyone wrote in between, this is a 409.
      this.lease = await apiRequest<LeaseObject>(kubeConfig, {
        method: 'PUT',
        path: `${this.path}/${encodeURIComponent(name)}`,
        body: next,
        timeoutMs,
      });
    } catch (error) {
      if (statusCodeOf(error) === 409) return false;
      throw error;
    }
    if (!ours) this.logger.info({ previousHolder: holder || undefined }, 'acquired the lease');
    this.observe(identity);
    return true;
  }

  /** Clears the holder (client-go's release), so a standby need not wait for expiry. */
  private async release(): Promise<void> {
    const { kubeConfig, name, identity } = this.options;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const current =
          attempt === 0 && this.lease
            ? this.lease
            : await apiRequest<LeaseObject>(kubeConfig, {
                path: `${this.path}/${encodeURIComponent(name)}`,
                timeoutMs: this.renewDeadlineMs,
              });
        if ((current.spec?.holderIdentity ?? '') !== identity) return;
        const now = microTime(Date.now());
        await apiRequest<LeaseObject>(kubeConfig, {
          method: 'PUT',
          path: `${this.path}/${encodeURIComponent(name)}`,
          body: {
            ...current,
            spec: {
              ...current.spec,
              holderIdentity: '',
              leaseDurationSeconds: 1,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: current.spec?.leaseTransitions ?? 0,
            },
          },
          timeoutMs: this.renewDeadlineMs,
        });
        this.logger.info({}, 'released the lease');
        return;
      } catch (error) {
        if (statusCodeOf(error) !== 409) {
          this.logger.warn({ err: error }, 'releasing the lease failed; it will expire instead');
          return;
        }
      }
    }
  }

  private beginLeadership(): void {
    this.leading = true;
    this.options.metrics?.leading(this.options.name, true);
    this.armDeadline();
    this.logger.info({}, 'started leading');
    const controller = new AbortController();
    this.leadingController = controller;
    this.leadingWork = (async () => {
      try {
        await this.options.onStartedLeading(controller.signal);
      } catch (error) {
        this.logger.error({ err: error }, 'onStartedLeading failed');
      }
    })();
  }

  /** Ends the current term once: stops the deadline, aborts the signal, tells the callbacks. */
  private endLeadership(reason: 'lost' | 'stopped'): void {
    if (!this.leading) return;
    this.leading = false;
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.leadingController?.abort();
    this.options.metrics?.leading(this.options.name, false);
    if (reason === 'lost') this.logger.error({}, 'lost leadership');
    else this.logger.info({}, 'stopped leading');
    this.wake?.();
    try {
      this.options.onStoppedLeading?.();
    } catch (error) {
      this.logger.error({ err: error }, 'onStoppedLeading threw');
    }
  }

  private armDeadline(): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    // A timer, not a check after each attempt: a renewal stuck in a hung request must not
    // keep this replica leading past the deadline.
    this.deadlineTimer = setTimeout(() => {
      this.logger.warn({ renewDeadlineMs: this.renewDeadlineMs }, 'could not renew the lease in time');
      this.endLeadership('lost');
    }, this.renewDeadlineMs);
  }

  private observe(holder: string): void {
    if (holder === this.observedHolder) return;
    this.observedHolder = holder;
    if (holder === '') return;
    try {
      this.options.onNewLeader?.(holder);
    } catch (error) {
      this.logger.error({ err: error }, 'onNewLeader threw');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** metav1.MicroTime on the wire: RFC 3339 with exactly six fractional digits (the API server rejects three). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Parses a MicroTime or Time string to epoch milliseconds. */
function parseMicroTime(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const parsed = Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(parsed) ? undefined : parsed;
}

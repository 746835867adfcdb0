import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/v1alpha1/index.ts';
import {
  buildStatus,
  failedStatus,
  mergeConditions,
  sameStatus,
  type TenantObservations,
} from './tenant-status.ts';

const ok = (reason: string) => ({ ok: true, reason, message: `${reason}.` });

function observations(overrides: Partial<TenantObservations> = {}): TenantObservations {
  return {
    generation: 3,
    suspended: false,
    database: ok('Provisioned'),
    redis: ok('SentinelGroupReady'),
    migrations: { state: 'Succeeded', reason: 'MigrationSucceeded', message: 'done' },
    workers: { desired: 2, ready: 2, updated: 2 },
    api: { desired: 2, ready: 2, updated: 2 },
    sessions: {
      reported: true,
      declared: [
        { name: 'support', state: 'connected' },
        { name: 'sales', state: 'connected' },
      ],
    },
    selector: 'app.kubernetes.io/instance=acme',
    ...overrides,
  };
}

const t0 = new Date('2026-12-01T10:00:00.000Z');
const t1 = new Date('2026-12-01T10:05:00.000Z');
const find = (conditions: readonly Condition[] | undefined, type: string) =>
  conditions?.find((c) => c.type === type);

describe('buildStatus', () => {
  it('is Ready with every component ready, with the kubectl columns filled', () => {
    const status = buildStatus(undefined, observations(), t0);
    expect(status.phase).toBe('Ready');
    expect(find(status.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'AllComponentsReady' });
    expect(find(status.conditions, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'RolloutComplete',
    });
    expect(find(status.conditions, 'Degraded')).toMatchObject({ status: 'False' });
    expect(status.workersSummary).toBe('2/2');
    expect(status.sessionsSummary).toBe('2/2');
    expect(status.observedGeneration).toBe(3);
    expect(status.conditions!.every((c) => c.observedGeneration === 3)).toBe(true);
  });

  it('reports sessions as Unknown until the API reports them, never an invented count', () => {
    const status = buildStatus(
      undefined,
      observations({
        sessions: { reported: false, reason: 'WaitingForApi', message: 'No API pod is ready.' },
      }),
      t0,
    );
    expect(find(status.conditions, 'SessionsHealthy')).toMatchObject({
      status: 'Unknown',
      reason: 'WaitingForApi',
    });
    expect(status.sessions).toBeUndefined();
    expect(status.sessionsSummary).toBe('unknown');
  });

  it('counts connected of declared sessions and names the ones not connected', () => {
    const status = buildStatus(
      undefined,
      observations({
        sessions: {
          reported: true,
          declared: [
            { name: 'support', state: 'connected' },
            { name: 'sales', state: 'pairing' },
            { name: 'ops', state: 'logged_out' },
            { name: 'new', state: 'unknown' },
          ],
        },
      }),
      t0,
    );
    expect(status.sessionsSummary).toBe('1/4');
    expect(status.sessions).toEqual({ total: 4, connected: 1, pairing: 1, disconnected: 2 });
    expect(find(status.conditions, 'SessionsHealthy')).toMatchObject({
      status: 'False',
      reason: 'SessionsNotConnected',
      message:
        '3 of 4 declared sessions are not connected: sales (pairing), ops (logged out), new (not known to the API yet).',
    });
    // Sessions are the tenant's business: a disconnected phone does not make the stack un-Ready.
    expect(status.phase).toBe('Ready');
  });

  it('stays Ready but Progressing during a rolling update', () => {
    const status = buildStatus(
      undefined,
      observations({ workers: { desired: 2, ready: 2, updated: 1 } }),
      t0,
    );
    expect(status.phase).toBe('Ready');
    expect(find(status.conditions, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
  });

  it('is Degraded with the migration Job named when a migration failed', () => {
    const status = buildStatus(
      undefined,
      observations({
        migrations: {
          state: 'Failed',
          reason: 'MigrationFailed',
          message: 'Migration Job acme-migrate-1 failed',
        },
      }),
      t0,
    );
    expect(status.phase).toBe('Degraded');
    expect(find(status.conditions, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'MigrationFailed',
      message: 'Migration Job acme-migrate-1 failed',
    });
    expect(find(status.conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'MigrationFailed' });
    expect(find(status.conditions, 'Progressing')).toMatchObject({ status: 'False' });
  });

  it('waits (Provisioning, not Degraded) while the database is being created or migrations run', () => {
    const running = buildStatus(
      undefined,
      observations({
        migrations: { state: 'Running', reason: 'MigrationRunning', message: 'running' },
        workers: { desired: 2, ready: 0, updated: 0 },
        api: { desired: 2, ready: 0, updated: 0 },
      }),
      t0,
    );
    expect(running.phase).toBe('Provisioning');
    expect(find(running.conditions, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'WaitingForMigrations',
    });
    expect(find(running.conditions, 'Degraded')).toMatchObject({ status: 'False' });
  });

  it('is Degraded when the database cannot be reached or provisioned, with the reason', () => {
    const status = buildStatus(
      undefined,
      observations({ database: { ok: false, reason: 'SecretNotFound', message: 'Secret x does not exist' } }),
      t0,
    );
    expect(status.phase).toBe('Degraded');
    expect(find(status.conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
  });

  it('is Suspended while suspended, whatever else holds', () => {
    const status = buildStatus(
      undefined,
      observations({
        suspended: true,
        workers: { desired: 0, ready: 0, updated: 0 },
        api: { desired: 0, ready: 0, updated: 0 },
      }),
      t0,
    );
    expect(status.phase).toBe('Suspended');
    expect(find(status.conditions, 'Ready')).toMatchObject({ reason: 'Suspended' });
  });

  it('names an invalid spec and stops', () => {
    const status = buildStatus(
      undefined,
      observations({ invalid: { ok: false, reason: 'InvalidSpec', message: 'spec.workers: bad' } }),
      t0,
    );
    expect(status.phase).toBe('Degraded');
    expect(find(status.conditions, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'InvalidSpec',
      message: 'spec.workers: bad',
    });
  });
});

describe('lastTransitionTime', () => {
  it('moves only when a condition changes status, not when its reason or message does', () => {
    const first = buildStatus(undefined, observations({ workers: { desired: 2, ready: 2, updated: 1 } }), t0);
    const second = buildStatus(first, observations({ workers: { desired: 3, ready: 2, updated: 2 } }), t1);
    // Progressing stays True (message changed): same time. Ready went True -> False: new time.
    expect(find(second.conditions, 'Progressing')!.lastTransitionTime).toBe('2026-12-01T10:00:00Z');
    expect(find(second.conditions, 'Progressing')!.message).not.toBe(
      find(first.conditions, 'Progressing')!.message,
    );
    expect(find(second.conditions, 'Ready')!.lastTransitionTime).toBe('2026-12-01T10:05:00Z');
  });

  it('is whole seconds in RFC 3339, as metav1.Time serialises', () => {
    const [c] = mergeConditions(
      undefined,
      [{ type: 'Ready', status: 'True', reason: 'X', message: 'x', observedGeneration: 1 }],
      t0,
    );
    expect(c!.lastTransitionTime).toBe('2026-12-01T10:00:00Z');
  });
});

describe('sameStatus', () => {
  it('is true for an unchanged recomputation (so nothing is written) and false after a change', () => {
    const a = buildStatus(undefined, observations(), t0);
    expect(sameStatus(a, buildStatus(a, observations(), t1))).toBe(true);
    expect(sameStatus(a, buildStatus(a, observations({ generation: 4 }), t1))).toBe(false);
    expect(sameStatus(undefined, a)).toBe(false);
  });
});

describe('failedStatus', () => {
  it('sets Degraded with the message and keeps what the last complete pass found', () => {
    const now = new Date('2026-12-07T03:00:00Z');
    const previous = buildStatus(undefined, observations(), new Date('2026-12-07T02:00:00Z'));
    const status = failedStatus(previous, 3, 'Reconcile failed at children: 500 InternalError: etcd.', now);
    expect(status.phase).toBe('Degraded');
    expect(status.observedGeneration).toBe(3);
    const degraded = status.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({
      status: 'True',
      reason: 'ReconcileFailed',
      message: 'Reconcile failed at children: 500 InternalError: etcd.',
      lastTransitionTime: '2026-12-07T03:00:00Z',
    });
    const ready = (s: typeof status | undefined) => s?.conditions?.find((c) => c.type === 'Ready');
    expect(ready(status)).toEqual(ready(previous));
    expect(status.workersSummary).toBe(previous.workersSummary);
  });

  it('says Ready=False when no pass completed before', () => {
    const status = failedStatus(undefined, 1, 'Reconcile failed at children: boom.', new Date());
    expect(status.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'False'],
      ['Degraded', 'True'],
    ]);
  });
});

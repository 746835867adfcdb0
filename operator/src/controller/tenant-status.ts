import type { Condition, ConditionType, Phase, WhatsAppTenantStatus } from '../api/v1alpha1/index.ts';
import { stableStringify } from '../specs/config-hash.ts';
import type { SessionState, TenantApiStatus } from './tenant-api.ts';

/** status.ownerInvite. */
export type OwnerInviteStatus = NonNullable<WhatsAppTenantStatus['ownerInvite']>;

/**
 * Turning what a reconcile observed into the tenant's status: conditions with reasons a human
 * can act on, the phase that summarises them, and the kubectl columns. Pure, so every rule
 * (what makes a tenant Ready, when lastTransitionTime moves) is tested as data.
 */

/** One aspect the reconcile checked: whether it holds, and why (CamelCase reason + a sentence). */
export interface Observation {
  ok: boolean;
  reason: string;
  message: string;
}

/** The state of the migration Job for the tenant's target image. */
export type MigrationState = 'Succeeded' | 'Running' | 'Failed' | 'Blocked';

/** A declared session's state as the API reports it; `unknown` when the API has no such session yet. */
export type DeclaredSessionState = SessionState | 'unknown';

/**
 * What the reconcile learned about the declared sessions: each one's state from the tenant's
 * API, or why the API could not be asked.
 */
export type SessionsObservation =
  | { reported: true; declared: { name: string; state: DeclaredSessionState }[] }
  | { reported: false; reason: string; message: string };

/** The declared sessions (spec.sessions) with the states the API reports for them. */
export function declaredSessions(
  declaredNames: readonly string[],
  reported: TenantApiStatus,
): { name: string; state: DeclaredSessionState }[] {
  const states = new Map(reported.sessions.items.map((s) => [s.name, s.state]));
  return declaredNames.map((name) => ({ name, state: states.get(name) ?? 'unknown' }));
}

// The message names this many sessions that are not connected; the count covers the rest.
const SESSIONS_NAMED = 10;

/** The SessionsHealthy condition and the status fields for the sessions. */
export function sessionsStatus(sessions: SessionsObservation): {
  healthy: Observation | { ok: 'Unknown'; reason: string; message: string };
  counts?: { total: number; connected: number; pairing: number; disconnected: number };
  summary: string;
} {
  if (!sessions.reported) {
    return {
      healthy: { ok: 'Unknown', reason: sessions.reason, message: sessions.message },
      summary: 'unknown',
    };
  }
  const { declared } = sessions;
  const connected = declared.filter((s) => s.state === 'connected').length;
  const pairing = declared.filter((s) => s.state === 'pairing' || s.state === 'unpaired').length;
  const counts = {
    total: declared.length,
    connected,
    pairing,
    disconnected: declared.length - connected - pairing,
  };
  const down = declared.filter((s) => s.state !== 'connected');
  if (down.length === 0) {
    return {
      healthy: {
        ok: true,
        reason: 'AllSessionsConnected',
        message:
          declared.length === 0
            ? 'No sessions are declared.'
            : `All ${declared.length} declared sessions are connected.`,
      },
      counts,
      summary: `${connected}/${declared.length}`,
    };
  }
  const named = down
    .slice(0, SESSIONS_NAMED)
    .map(
      (s) => `${s.name} (${s.state === 'unknown' ? 'not known to the API yet' : s.state.replace('_', ' ')})`,
    )
    .join(', ');
  const more = down.length > SESSIONS_NAMED ? ` and ${down.length - SESSIONS_NAMED} more` : '';
  return {
    healthy: {
      ok: false,
      reason: 'SessionsNotConnected',
      message: `${down.length} of ${declared.length} declared sessions are not connected: ${named}${more}.`,
    },
    counts,
    summary: `${connected}/${declared.length}`,
  };
}

/** Everything the status is computed from. */
export interface TenantObservations {
  /** metadata.generation of the tenant the reconcile acted on. */
  generation: number;
  suspended: boolean;
  /** Set when the spec could not be acted on at all (parse error, missing operator setting). */
  invalid?: Observation;
  database: Observation;
  redis: Observation;
  migrations: { state: MigrationState; reason: string; message: string };
  /** ready: available pods (old or new); updated: pods of the current template. */
  workers: { desired: number; ready: number; updated: number };
  api: { desired: number; ready: number; updated: number };
  endpoints?: { inbox?: string; api?: string };
  /** The declared sessions as the tenant's API reports them, or why it could not be asked. */
  sessions: SessionsObservation;
  /** The first owner's invite (spec.owner), when there is one to report. */
  ownerInvite?: OwnerInviteStatus;
  /** Label selector of the worker pods, for the scale subresource. */
  selector: string;
}

function condition(
  type: ConditionType,
  status: boolean | 'Unknown',
  reason: string,
  message: string,
  generation: number,
): Omit<Condition, 'lastTransitionTime'> {
  const value = status === 'Unknown' ? 'Unknown' : status ? 'True' : 'False';
  return { type, status: value, reason, message, observedGeneration: generation };
}

/** The conditions the observations imply, without transition times (mergeConditions adds them). */
export function desiredConditions(o: TenantObservations): Omit<Condition, 'lastTransitionTime'>[] {
  const g = o.generation;
  if (o.invalid) {
    return [
      condition('Ready', false, o.invalid.reason, o.invalid.message, g),
      condition('Progressing', false, o.invalid.reason, 'Nothing is rolled out until the spec is fixed.', g),
      condition('Degraded', true, o.invalid.reason, o.invalid.message, g),
    ];
  }
  const migrated = o.migrations.state === 'Succeeded';
  // Ready counts available pods of any revision: a rolling update keeps serving, so it shows as
  // Progressing, not as a tenant that stopped being Ready.
  const workloadsReady = o.api.ready >= o.api.desired && o.workers.ready >= o.workers.desired && migrated;
  const rolledOut = o.api.updated >= o.api.desired && o.workers.updated >= o.workers.desired;
  const degradedBy: Observation | undefined =
    o.migrations.state === 'Failed'
      ? { ok: false, reason: o.migrations.reason, message: o.migrations.message }
      : !o.database.ok && o.database.reason !== 'Provisioning'
        ? o.database
        : undefined;
  const ready = o.database.ok && o.redis.ok && workloadsReady && !degradedBy;

  let progressing: Observation;
  if (degradedBy) {
    progressing = {
      ok: false,
      reason: degradedBy.reason,
      message: 'The rollout is stopped until this is fixed.',
    };
  } else if (!o.database.ok) {
    progressing = { ok: true, reason: 'WaitingForDatabase', message: o.database.message };
  } else if (!migrated) {
    progressing = { ok: true, reason: 'WaitingForMigrations', message: o.migrations.message };
  } else if (!workloadsReady || !rolledOut || !o.redis.ok) {
    progressing = {
      ok: true,
      reason: 'RollingOut',
      message: `API ${o.api.updated}/${o.api.desired} and workers ${o.workers.updated}/${o.workers.desired} updated, ${o.api.ready} and ${o.workers.ready} available${o.redis.ok ? '' : `; ${o.redis.message}`}.`,
    };
  } else {
    progressing = { ok: false, reason: 'RolloutComplete', message: 'Every child is up to date and ready.' };
  }

  let readyReason: Observation;
  if (ready) {
    readyReason = {
      ok: true,
      reason: o.suspended ? 'Suspended' : 'AllComponentsReady',
      message: o.suspended
        ? 'Suspended: API and workers are scaled to zero; data is kept.'
        : 'The database, Redis, API and workers are ready.',
    };
  } else {
    const why = degradedBy ?? (!o.database.ok ? o.database : !o.redis.ok ? o.redis : undefined);
    readyReason = why
      ? { ok: false, reason: why.reason, message: why.message }
      : { ok: false, reason: progressing.reason, message: progressing.message };
  }

  return [
    condition('Ready', readyReason.ok, readyReason.reason, readyReason.message, g),
    condition('Progressing', progressing.ok, progressing.reason, progressing.message, g),
    condition(
      'Degraded',
      degradedBy !== undefined,
      degradedBy?.reason ?? 'AsExpected',
      degradedBy?.message ?? 'Nothing is failing.',
      g,
    ),
    condition('DatabaseReady', o.database.ok, o.database.reason, o.database.message, g),
    condition('RedisReady', o.redis.ok, o.redis.reason, o.redis.message, g),
    condition('MigrationsApplied', migrated, o.migrations.reason, o.migrations.message, g),
    // From the tenant API's GET /internal/status (tenant-api.ts); Unknown while it cannot be asked.
    (() => {
      const { healthy } = sessionsStatus(o.sessions);
      return condition('SessionsHealthy', healthy.ok, healthy.reason, healthy.message, g);
    })(),
  ];
}

/**
 * Adds lastTransitionTime: kept from the previous condition of the same type when its status
 * did not change (a reason or message change is not a transition), `now` otherwise.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly Omit<Condition, 'lastTransitionTime'>[],
  now: Date,
): Condition[] {
  const before = new Map((previous ?? []).map((c) => [c.type, c]));
  return next.map((c) => {
    const old = before.get(c.type);
    const lastTransitionTime =
      old && old.status === c.status ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { ...c, lastTransitionTime };
  });
}

/** The phase that summarises the conditions. */
export function phaseOf(o: TenantObservations, conditions: readonly Condition[]): Phase {
  const is = (type: ConditionType) => conditions.find((c) => c.type === type)?.status === 'True';
  if (is('Degraded')) return 'Degraded';
  if (o.suspended) return 'Suspended';
  if (is('Ready')) return 'Ready';
  if (!o.database.ok && o.workers.ready === 0 && o.api.ready === 0) return 'Pending';
  return 'Provisioning';
}

/** The whole status subresource for the observations. */
export function buildStatus(
  previous: WhatsAppTenantStatus | undefined,
  o: TenantObservations,
  now: Date,
): WhatsAppTenantStatus {
  const conditions = mergeConditions(previous?.conditions, desiredConditions(o), now);
  const sessions = sessionsStatus(o.sessions);
  return {
    phase: phaseOf(o, conditions),
    observedGeneration: o.generation,
    conditions,
    workers: { desired: o.workers.desired, ready: o.workers.ready },
    workersSummary: `${o.workers.ready}/${o.workers.desired}`,
    ...(sessions.counts ? { sessions: sessions.counts } : {}),
    sessionsSummary: sessions.summary,
    ...(o.ownerInvite ? { ownerInvite: o.ownerInvite } : {}),
    ...(o.endpoints && (o.endpoints.inbox || o.endpoints.api) ? { endpoints: o.endpoints } : {}),
    selector: o.selector,
  };
}

/** True when two statuses say the same thing (the reconcile then writes nothing). */
export function sameStatus(a: WhatsAppTenantStatus | undefined, b: WhatsAppTenantStatus): boolean {
  return a !== undefined && stableStringify(a) === stableStringify(b);
}

/**
 * The status of a pass that failed: Degraded (ReconcileFailed) with `message`; the other
 * conditions keep what the last complete pass found (Ready=False added when there was none).
 */
export function failedStatus(
  previous: WhatsAppTenantStatus | undefined,
  generation: number,
  message: string,
  now: Date,
): WhatsAppTenantStatus {
  const failed = {
    type: 'Degraded' as const,
    status: 'True' as const,
    reason: 'ReconcileFailed',
    message,
    observedGeneration: generation,
  };
  const kept = (previous?.conditions ?? [])
    .filter((c) => c.type !== 'Degraded')
    .map(({ lastTransitionTime: _t, ...c }) => c);
  const next = kept.some((c) => c.type === 'Ready')
    ? [...kept, failed]
    : [
        {
          type: 'Ready' as const,
          status: 'False' as const,
          reason: 'ReconcileFailed',
          message,
          observedGeneration: generation,
        },
        ...kept,
        failed,
      ];
  const status: WhatsAppTenantStatus = {
    ...(previous ?? {}),
    phase: 'Degraded',
    observedGeneration: generation,
    conditions: mergeConditions(previous?.conditions, next, now),
  };
  return status;
}

/**
 * A merge patch replaces lists whole, which is what conditions need, but merges objects: fields
 * present before and absent now (at any depth of nested objects, e.g. ownerInvite.secretName once
 * the invite is accepted) are set to null so the patch removes them.
 */
export function replaceLists(
  previous: WhatsAppTenantStatus | undefined,
  next: WhatsAppTenantStatus,
): Record<string, unknown> {
  return removedAsNull(previous ?? {}, next);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function removedAsNull(previous: object, next: object): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  for (const [field, before] of Object.entries(previous)) {
    const after = (next as Record<string, unknown>)[field];
    if (after === undefined) patch[field] = null;
    else if (isObject(before) && isObject(after)) patch[field] = removedAsNull(before, after);
  }
  return patch;
}

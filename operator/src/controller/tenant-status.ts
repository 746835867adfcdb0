import type { Condition, ConditionType, Phase, WhatsAppTenantStatus } from '../api/v1alpha1/index.ts';
import { stableStringify } from '../specs/config-hash.ts';

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
    // The tenant API's internal status endpoint reports sessions; until the operator reads it,
    // say so rather than invent a value.
    condition(
      'SessionsHealthy',
      'Unknown',
      'SessionsNotReported',
      'Session health is not reported to the operator yet.',
      g,
    ),
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
  return {
    phase: phaseOf(o, conditions),
    observedGeneration: o.generation,
    conditions,
    workers: { desired: o.workers.desired, ready: o.workers.ready },
    workersSummary: `${o.workers.ready}/${o.workers.desired}`,
    // The operator does not read session health from the tenant API: status.sessions is kept
    // when something set it, and the summary is unknown otherwise.
    ...(previous?.sessions ? { sessions: previous.sessions } : {}),
    sessionsSummary: previous?.sessions
      ? `${previous.sessions.connected}/${previous.sessions.total}`
      : 'unknown',
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
 * A merge patch replaces lists whole, which is what conditions need; fields present before and
 * absent now are set to null so the patch removes them.
 */
export function replaceLists(
  previous: WhatsAppTenantStatus | undefined,
  next: WhatsAppTenantStatus,
): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  for (const field of Object.keys(previous ?? {})) {
    if (!(field in next)) patch[field] = null;
  }
  return patch;
}

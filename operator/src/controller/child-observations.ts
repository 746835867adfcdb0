import type { KubernetesObject, V1Deployment, V1Job, V1StatefulSet } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childNames } from '../specs/names.ts';
import type { MigrationState, Observation } from './tenant-status.ts';

/**
 * What the reconcile reads off its children's status: the migration Job's outcome, the
 * Deployments' available and updated pods, the Redis StatefulSets' ready pods. Pure; the
 * status rules in tenant-status.ts turn these into conditions.
 */

/** The migration Job's state, with a reason and a sentence for the status. */
export function jobState(job: V1Job): { state: MigrationState; reason: string; message: string } {
  const conditions = job.status?.conditions ?? [];
  const holds = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  const name = job.metadata?.name;
  const complete = holds('Complete');
  if (complete) {
    return { state: 'Succeeded', reason: 'MigrationSucceeded', message: `Migration Job ${name} succeeded.` };
  }
  const failed = holds('Failed') ?? holds('FailureTarget');
  if (failed) {
    return {
      state: 'Failed',
      reason: 'MigrationFailed',
      message: `Migration Job ${name} failed (${failed.reason ?? 'Failed'}: ${failed.message ?? 'no message'}); read its logs with kubectl logs job/${name}. Nothing is rolled out until it succeeds.`,
    };
  }
  return { state: 'Running', reason: 'MigrationRunning', message: `Migration Job ${name} is running.` };
}

/** Available pods (any revision) and pods of the current template that are available. */
export function deploymentCounts(deployment: V1Deployment | undefined): { ready: number; updated: number } {
  if (!deployment) return { ready: 0, updated: 0 };
  const available = deployment.status?.availableReplicas ?? 0;
  // A status from an older generation has not counted the current template's pods yet.
  const current = (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  return {
    ready: available,
    updated: current ? Math.min(deployment.status?.updatedReplicas ?? 0, available) : 0,
  };
}

export function statefulSetReady(statefulSet: V1StatefulSet | undefined): number {
  if (!statefulSet) return 0;
  if ((statefulSet.status?.observedGeneration ?? 0) < (statefulSet.metadata?.generation ?? 0)) return 0;
  return statefulSet.status?.readyReplicas ?? 0;
}

/** Whether the tenant's Redis can serve: external, or a primary and a Sentinel quorum ready. */
export function observeRedis(tenant: WhatsAppTenant, live: Map<string, KubernetesObject>): Observation {
  if (tenant.spec.redis.mode === 'external') {
    return {
      ok: true,
      reason: 'ExternalRedis',
      message: `Using the Redis in Secret ${tenant.spec.redis.external!.secretRef.name}.`,
    };
  }
  const names = childNames(tenant);
  const redis = live.get(`apps/v1/StatefulSet/${names.redis}`) as V1StatefulSet | undefined;
  const sentinel = live.get(`apps/v1/StatefulSet/${names.sentinel}`) as V1StatefulSet | undefined;
  const want = (s: V1StatefulSet | undefined) => s?.spec?.replicas ?? 0;
  const redisReady = statefulSetReady(redis);
  const sentinelReady = statefulSetReady(sentinel);
  // A primary and a Sentinel quorum are enough to serve; replicas still coming is not an outage.
  const quorum = Math.floor(want(sentinel) / 2) + 1;
  if (redisReady >= 1 && sentinelReady >= quorum) {
    return {
      ok: true,
      reason: 'SentinelGroupReady',
      message: `Redis ${redisReady}/${want(redis)} and Sentinel ${sentinelReady}/${want(sentinel)} ready.`,
    };
  }
  return {
    ok: false,
    reason: 'RedisNotReady',
    message: `Redis ${redisReady}/${want(redis)} and Sentinel ${sentinelReady}/${want(sentinel)} ready.`,
  };
}

import type {
  V1EnvVar,
  V1PodDisruptionBudget,
  V1Service,
  V1StatefulSet,
  V1Volume,
} from '@kubernetes/client-node';
import { type RedisAclRole, redisAclRules, sentinelAclRules } from '@switchboard/redis/acl';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { configHash } from './config-hash.ts';
import { GENERATED_SECRET_KEYS } from './generated-secret.ts';
import {
  CONFIG_HASH_ANNOTATION,
  type Component,
  childNames,
  componentLabels,
  PORTS,
  REDIS_MASTER_NAME,
  selectorLabels,
} from './names.ts';
import { type OperatorConfig, tenantImages } from './operator-config.ts';
import { childMetadata } from './owner-reference.ts';
import {
  baseContainer,
  basePodSpec,
  DEFAULT_RESOURCES,
  fieldEnv,
  resourceRequirements,
  type SecretDigests,
  secretEnv,
  tmpVolume,
  tmpVolumeMount,
} from './pod-template.ts';
import { quantityValue } from './quantity.ts';
import { REDIS_SCRIPTS, SCRIPTS_MOUNT_PATH } from './redis-scripts.ts';

/**
 * The tenant's Redis (primary + replicas) and the pieces both Redis StatefulSets share; the
 * Sentinels are in sentinel.ts. Only built with spec.redis.mode sentinel.
 */

/** Inputs of the Redis and Sentinel builders that do not come from the tenant. */
export interface RedisInputs {
  /** Digests of Secrets, by name (see SecretDigests); the generated Secret's matters here. */
  secretDigests: SecretDigests;
}

/** Quorum of the Sentinel group: a majority, so a partitioned minority cannot fail over. */
export function sentinelQuorum(replicas: number): number {
  return Math.floor(replicas / 2) + 1;
}

/**
 * The services' Redis key prefix for the tenant: messaging's tenantKeyPrefix of
 * SWITCHBOARD_TENANT (the tenant's name, config-map.ts); redis.test.ts checks they agree.
 */
export function redisKeyPrefix(tenant: WhatsAppTenant): string {
  return `sb:${tenant.metadata.name}:`;
}

/** The generated Secret's key holding each ACL user's password. */
const ACL_PASSWORD_KEYS = {
  admin: GENERATED_SECRET_KEYS.redisPassword,
  api: GENERATED_SECRET_KEYS.redisApiPassword,
  worker: GENERATED_SECRET_KEYS.redisWorkerPassword,
  replication: GENERATED_SECRET_KEYS.redisReplicationPassword,
  sentinel: GENERATED_SECRET_KEYS.redisSentinelPassword,
} as const satisfies Record<RedisAclRole, string>;

/** The environment variable a start script reads a user's password from. */
export function aclPasswordVariable(role: RedisAclRole): string {
  return role === 'admin' ? 'REDIS_PASSWORD' : `REDIS_${role.toUpperCase()}_PASSWORD`;
}

/**
 * The ACL users' passwords and rules for the start scripts: `REDIS_<ROLE>_PASSWORD` (the admin's
 * is REDIS_PASSWORD), `REDIS_ACL_<ROLE>` (rules on the data nodes) and `SENTINEL_ACL_<ROLE>`
 * (rules on the Sentinels), each a space-separated rule list from packages/redis's acl.ts.
 */
export function redisAclEnv(tenant: WhatsAppTenant): V1EnvVar[] {
  const secret = childNames(tenant).generatedSecret;
  const keyPrefix = redisKeyPrefix(tenant);
  return Object.entries(ACL_PASSWORD_KEYS).flatMap(([role, key]) => [
    secretEnv(aclPasswordVariable(role as RedisAclRole), secret, key),
    {
      name: `REDIS_ACL_${role.toUpperCase()}`,
      value: redisAclRules(role as RedisAclRole, { keyPrefix }).join(' '),
    },
    { name: `SENTINEL_ACL_${role.toUpperCase()}`, value: sentinelAclRules(role as RedisAclRole).join(' ') },
  ]);
}

/** Environment the scripts in redis-scripts.ts read. */
export function redisGroupEnv(tenant: WhatsAppTenant, config: OperatorConfig): V1EnvVar[] {
  const names = childNames(tenant);
  const replicas = tenant.spec.redis.sentinel.replicas;
  return [
    fieldEnv('NAMESPACE', 'metadata.namespace'),
    { name: 'CLUSTER_DOMAIN', value: config.clusterDomain },
    { name: 'REDIS_NAME', value: names.redis },
    { name: 'SENTINEL_NAME', value: names.sentinel },
    { name: 'REPLICAS', value: String(replicas) },
    { name: 'MASTER_NAME', value: REDIS_MASTER_NAME },
    { name: 'QUORUM', value: String(sentinelQuorum(replicas)) },
    ...redisAclEnv(tenant),
    // The scripts' and probes' redis-cli runs as the `sentinel` user (ROLE, INFO, PING, SENTINEL
    // get-master-addr-by-name) and reads its password from here, never from a process list.
    { name: 'REDISCLI_USER', value: 'sentinel' },
    secretEnv('REDISCLI_AUTH', names.generatedSecret, GENERATED_SECRET_KEYS.redisSentinelPassword),
  ];
}

/**
 * What Redis does when its data reaches maxmemory: refuse writes (an error the client sees)
 * rather than evict keys. Every key is state: BullMQ's queues, job hashes and locks (BullMQ
 * requires noeviction; an evicted job or lock is a message silently lost or sent twice), the
 * session fences and the WhatsApp auth state, whose loss logs the session out. A failed write is
 * retried and alerts; an evicted key is silent.
 */
export const REDIS_MAXMEMORY_POLICY = 'noeviction';

/** Share of the Redis container's memory limit given to data by default; the rest is Redis's own overhead (buffers, fork for AOF rewrite). */
export const REDIS_MAXMEMORY_SHARE = 0.75;

/**
 * Seconds a replica may go without acknowledging the primary before it stops counting for
 * min-replicas-to-write.
 */
export const REDIS_MIN_REPLICAS_MAX_LAG = 10;

/** A memory quantity (384Mi, 1G, 1073741824) in bytes; undefined for one that is not a whole byte count. */
export function memoryBytes(value: string | number): number | undefined {
  const text = String(value);
  // Unsigned and not in milli-units: a byte count.
  if (!/^\d/.test(text) || text.endsWith('m')) return undefined;
  const bytes = quantityValue(text);
  return bytes === undefined ? undefined : Math.floor(bytes);
}

/**
 * maxmemory of the tenant's Redis in bytes: the spec's, else REDIS_MAXMEMORY_SHARE of the
 * container's memory limit; 0 (no limit) only when neither is known.
 */
export function redisMaxmemoryBytes(tenant: WhatsAppTenant): number {
  const { sentinel } = tenant.spec.redis;
  if (sentinel.maxmemory !== undefined) return memoryBytes(sentinel.maxmemory) ?? 0;
  const limit = resourceRequirements(sentinel.resources, DEFAULT_RESOURCES.redis).limits?.memory;
  const bytes = limit === undefined ? undefined : memoryBytes(limit);
  return bytes === undefined ? 0 : Math.floor(bytes * REDIS_MAXMEMORY_SHARE);
}

/**
 * Environment of the Redis containers only (redis-start.sh writes it into redis.conf): memory
 * bound and policy, and with replicas, min-replicas-to-write 1: the primary refuses a write no
 * replica has acknowledged within REDIS_MIN_REPLICAS_MAX_LAG seconds, so a failover cannot lose
 * more than that window of session fence and auth-state writes (replication stays asynchronous;
 * the services use WAIT where a write must be on a replica before they answer).
 */
export function redisServerEnv(tenant: WhatsAppTenant): V1EnvVar[] {
  const replicas = tenant.spec.redis.sentinel.replicas;
  return [
    { name: 'MAXMEMORY', value: String(redisMaxmemoryBytes(tenant)) },
    { name: 'MAXMEMORY_POLICY', value: REDIS_MAXMEMORY_POLICY },
    { name: 'MIN_REPLICAS_TO_WRITE', value: replicas > 1 ? '1' : '0' },
    { name: 'MIN_REPLICAS_MAX_LAG', value: String(REDIS_MIN_REPLICAS_MAX_LAG) },
  ];
}

/**
 * Config hash of Redis and Sentinel pods: the scripts they run (changed only by an operator
 * upgrade) and the password they are configured with.
 */
export function redisGroupHash(tenant: WhatsAppTenant, inputs: RedisInputs): string {
  const secret = childNames(tenant).generatedSecret;
  return configHash({ scripts: REDIS_SCRIPTS, secrets: { [secret]: inputs.secretDigests[secret] ?? null } });
}

/** The scripts volume, executable. */
export function scriptsVolume(tenant: WhatsAppTenant): V1Volume {
  return { name: 'scripts', configMap: { name: childNames(tenant).redisScripts, defaultMode: 0o555 } };
}

/** Spread the pods of one StatefulSet over nodes, so one node going down takes one of them. */
export function spreadOverNodes(tenant: WhatsAppTenant, component: Component) {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: selectorLabels(tenant, component) },
          },
        },
      ],
    },
  };
}

/**
 * Headless Service of a Redis or Sentinel StatefulSet: it gives each pod its stable DNS name.
 * publishNotReadyAddresses because the pods find each other by those names while starting,
 * before any of them is ready.
 */
export function buildHeadlessService(tenant: WhatsAppTenant, component: 'redis' | 'sentinel'): V1Service {
  const names = childNames(tenant);
  const port = component === 'redis' ? PORTS.redis : PORTS.sentinel;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(tenant, component === 'redis' ? names.redis : names.sentinel, component),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(tenant, component),
      ports: [{ name: component, port, targetPort: component, protocol: 'TCP' }],
    },
  };
}

/** The Redis headless Service. */
export function buildRedisService(tenant: WhatsAppTenant): V1Service {
  return buildHeadlessService(tenant, 'redis');
}

/**
 * PDB of Redis or Sentinel pods: one voluntary disruption at a time, so a node drain never takes
 * the primary and its only in-sync replica together, nor the Sentinels' majority.
 */
export function buildRedisGroupPodDisruptionBudget(
  tenant: WhatsAppTenant,
  component: 'redis' | 'sentinel',
): V1PodDisruptionBudget {
  const names = childNames(tenant);
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(tenant, component === 'redis' ? names.redis : names.sentinel, component),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(tenant, component) } },
  };
}

/** The Redis StatefulSet: one primary and replicas-1 replicas, roles chosen by redis-start.sh. */
export function buildRedisStatefulSet(
  tenant: WhatsAppTenant,
  config: OperatorConfig,
  inputs: RedisInputs,
): V1StatefulSet {
  const names = childNames(tenant);
  const { sentinel } = tenant.spec.redis;
  const { storage } = sentinel;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: childMetadata(tenant, names.redis, 'redis'),
    spec: {
      serviceName: names.redis,
      // Not suspended with the tenant: Redis holds the sessions' auth state, and scaling it to
      // zero and back would leave the choice of primary to chance (see redis-scripts.ts).
      replicas: sentinel.replicas,
      // Parallel: the start script copes with any order, and OrderedReady would hold every pod
      // behind ordinal 0, which after a failover is not special any more.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: selectorLabels(tenant, 'redis') },
      // What deleting the tenant does to the auth state follows the tenant's deletion policy;
      // scaling in keeps volumes so scaling out again finds its data.
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: tenant.spec.database.deletionPolicy === 'Delete' ? 'Delete' : 'Retain',
        whenScaled: 'Retain',
      },
      template: {
        metadata: {
          labels: componentLabels(tenant, 'redis'),
          annotations: { [CONFIG_HASH_ANNOTATION]: redisGroupHash(tenant, inputs) },
        },
        spec: {
          ...basePodSpec(config, names.redis),
          affinity: spreadOverNodes(tenant, 'redis'),
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              ...baseContainer(config, 'redis', tenantImages(tenant, config).redis),
              command: ['sh', `${SCRIPTS_MOUNT_PATH}/redis-start.sh`],
              ports: [{ name: 'redis', containerPort: PORTS.redis, protocol: 'TCP' }],
              env: [...redisGroupEnv(tenant, config), ...redisServerEnv(tenant)],
              resources: resourceRequirements(sentinel.resources, DEFAULT_RESOURCES.redis),
              // Loading a large append-only file can take minutes; liveness waits for startup.
              startupProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 5, failureThreshold: 60 },
              livenessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 10, failureThreshold: 6 },
              readinessProbe: {
                exec: { command: ['sh', `${SCRIPTS_MOUNT_PATH}/redis-ready.sh`] },
                periodSeconds: 5,
                timeoutSeconds: 3,
              },
              volumeMounts: [
                { name: 'data', mountPath: '/data' },
                { name: 'scripts', mountPath: SCRIPTS_MOUNT_PATH, readOnly: true },
                tmpVolumeMount(),
              ],
            },
          ],
          volumes: [scriptsVolume(tenant), tmpVolume()],
        },
      },
      // Immutable once created: a changed size needs the controller to resize the claims.
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: componentLabels(tenant, 'redis') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(storage.storageClassName ? { storageClassName: storage.storageClassName } : {}),
            resources: { requests: { storage: String(storage.size) } },
          },
        },
      ],
    },
  };
}

/** The Redis PDB. */
export function buildRedisPodDisruptionBudget(tenant: WhatsAppTenant): V1PodDisruptionBudget {
  return buildRedisGroupPodDisruptionBudget(tenant, 'redis');
}

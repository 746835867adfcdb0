import { tenantKeyPrefix } from '@switchboard/messaging/producer';
import { redisAclRules, sentinelAclRules } from '@switchboard/redis/acl';
import { describe, expect, it } from 'vitest';
import type { WhatsAppTenantSpecInput } from '../api/v1alpha1/index.ts';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import { CONFIG_HASH_ANNOTATION } from './names.ts';
import {
  buildRedisPodDisruptionBudget,
  buildRedisService,
  buildRedisStatefulSet,
  redisKeyPrefix,
  sentinelQuorum,
} from './redis.ts';
import { buildSentinelService, buildSentinelStatefulSet } from './sentinel.ts';

const config = operatorConfigFixture();
const inputs = { secretDigests: { 'acme-internal': 'g1' } };

describe('buildRedisStatefulSet', () => {
  const tenant = tenantFixture({
    redis: { sentinel: { storage: { size: '5Gi', storageClassName: 'fast' } } },
  });
  const redis = buildRedisStatefulSet(tenant, config, inputs);

  it('runs the spec replicas behind the headless Service, in parallel', () => {
    expect(redis.spec?.replicas).toBe(3);
    expect(redis.spec?.serviceName).toBe('acme-redis');
    expect(redis.spec?.podManagementPolicy).toBe('Parallel');
    expect(buildRedisService(tenant).metadata?.name).toBe('acme-redis');
  });

  it('starts through the bootstrap script with what it needs to find the primary', () => {
    const container = redis.spec?.template.spec?.containers[0];
    expect(container?.command).toEqual(['sh', '/scripts/redis-start.sh']);
    const env = Object.fromEntries((container?.env ?? []).map((variable) => [variable.name, variable]));
    expect(env.REDIS_NAME?.value).toBe('acme-redis');
    expect(env.SENTINEL_NAME?.value).toBe('acme-sentinel');
    expect(env.REPLICAS?.value).toBe('3');
    expect(env.MASTER_NAME?.value).toBe('mymaster');
    expect(env.NAMESPACE?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    // redis-cli (start script, probes) runs as the `sentinel` ACL user.
    expect(env.REDISCLI_USER?.value).toBe('sentinel');
    expect(env.REDISCLI_AUTH?.valueFrom?.secretKeyRef).toEqual({
      name: 'acme-internal',
      key: 'REDIS_SENTINEL_PASSWORD',
    });
  });

  it('gives the scripts every ACL user: its password from the generated Secret, its rules for the tenant prefix', () => {
    const env = Object.fromEntries(
      (redis.spec?.template.spec?.containers[0]?.env ?? []).map((variable) => [variable.name, variable]),
    );
    const passwords = {
      REDIS_PASSWORD: 'REDIS_PASSWORD',
      REDIS_API_PASSWORD: 'REDIS_API_PASSWORD',
      REDIS_WORKER_PASSWORD: 'REDIS_WORKER_PASSWORD',
      REDIS_REPLICATION_PASSWORD: 'REDIS_REPLICATION_PASSWORD',
      REDIS_SENTINEL_PASSWORD: 'REDIS_SENTINEL_PASSWORD',
    };
    for (const [variable, key] of Object.entries(passwords))
      expect(env[variable]?.valueFrom?.secretKeyRef).toEqual({ name: 'acme-internal', key });
    // The services' key prefix for this tenant is messaging's contract.
    expect(redisKeyPrefix(tenant)).toBe(tenantKeyPrefix(tenant.metadata.name));
    expect(env.REDIS_ACL_API?.value).toBe(redisAclRules('api', { keyPrefix: 'sb:acme:' }).join(' '));
    expect(env.REDIS_ACL_WORKER?.value).toContain('~sb:acme:*');
    expect(env.SENTINEL_ACL_API?.value).toBe(sentinelAclRules('api').join(' '));
  });

  it('bounds Redis memory with noeviction, and asks for a replica acknowledgement when replicas exist', () => {
    const envOf = (spec: WhatsAppTenantSpecInput) => {
      const statefulSet = buildRedisStatefulSet(tenantFixture(spec), config, inputs);
      const container = statefulSet.spec?.template.spec?.containers[0];
      return Object.fromEntries((container?.env ?? []).map((variable) => [variable.name, variable.value]));
    };
    // The default: 75% of the default 512Mi memory limit, three pods.
    expect(envOf({})).toMatchObject({
      MAXMEMORY: String(384 * 2 ** 20),
      MAXMEMORY_POLICY: 'noeviction',
      MIN_REPLICAS_TO_WRITE: '1',
      MIN_REPLICAS_MAX_LAG: '10',
    });
    // From the spec's memory limit, or the spec's maxmemory.
    expect(envOf({ redis: { sentinel: { resources: { limits: { memory: '2Gi' } } } } }).MAXMEMORY).toBe(
      String(1.5 * 2 ** 30),
    );
    expect(envOf({ redis: { sentinel: { maxmemory: '100M' } } }).MAXMEMORY).toBe('100000000');
    // A single Redis pod has no replica to wait for: writes must not be refused.
    expect(envOf({ redis: { sentinel: { replicas: 1 } } }).MIN_REPLICAS_TO_WRITE).toBe('0');
    // The Sentinels get none of it.
    const sentinelEnv = buildSentinelStatefulSet(tenantFixture({}), config, inputs).spec?.template.spec
      ?.containers[0]?.env;
    expect(sentinelEnv?.map((variable) => variable.name)).not.toContain('MAXMEMORY');
  });

  it('keeps a volume per pod of the spec size and class', () => {
    expect(redis.spec?.volumeClaimTemplates?.[0]?.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'fast',
      resources: { requests: { storage: '5Gi' } },
    });
  });

  it('deletes the volumes with the tenant only when the deletion policy says Delete', () => {
    expect(redis.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted).toBe('Retain');
    const deleting = tenantFixture({ database: { deletionPolicy: 'Delete' } });
    expect(
      buildRedisStatefulSet(deleting, config, inputs).spec?.persistentVolumeClaimRetentionPolicy,
    ).toEqual({
      whenDeleted: 'Delete',
      whenScaled: 'Retain',
    });
  });

  it('keeps running while the tenant is suspended', () => {
    expect(buildRedisStatefulSet(tenantFixture({ suspend: true }), config, inputs).spec?.replicas).toBe(3);
  });

  it('rolls when the Redis password changes', () => {
    const rotated = buildRedisStatefulSet(tenant, config, { secretDigests: { 'acme-internal': 'g2' } });
    expect(rotated.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]).not.toBe(
      redis.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION],
    );
  });

  it('allows one disruption at a time', () => {
    expect(buildRedisPodDisruptionBudget(tenant).spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: redis.spec?.selector.matchLabels },
    });
  });
});

describe('buildSentinelStatefulSet', () => {
  it('runs as many Sentinels as Redis pods, found by stable names, ready only when they know the primary', () => {
    const tenant = tenantFixture({ redis: { sentinel: { replicas: 5 } } });
    const sentinel = buildSentinelStatefulSet(tenant, config, inputs);
    expect(sentinel.spec?.replicas).toBe(5);
    expect(sentinel.spec?.serviceName).toBe('acme-sentinel');
    const container = sentinel.spec?.template.spec?.containers[0];
    expect(container?.readinessProbe?.exec?.command).toEqual(['sh', '/scripts/sentinel-ready.sh']);
    expect(container?.env?.find((variable) => variable.name === 'QUORUM')?.value).toBe('3');
    const service = buildSentinelService(tenant);
    expect(service.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(service.spec?.selector).toEqual(sentinel.spec?.selector.matchLabels);
  });

  it('uses a majority quorum', () => {
    expect([1, 2, 3, 4, 5, 7].map(sentinelQuorum)).toEqual([1, 2, 2, 3, 3, 4]);
  });
});

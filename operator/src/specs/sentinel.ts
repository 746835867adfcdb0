import type { V1PodDisruptionBudget, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { CONFIG_HASH_ANNOTATION, childNames, componentLabels, PORTS, selectorLabels } from './names.ts';
import { type OperatorConfig, tenantImages } from './operator-config.ts';
import { childMetadata } from './owner-reference.ts';
import {
  baseContainer,
  basePodSpec,
  DEFAULT_RESOURCES,
  resourceRequirements,
  tmpVolume,
  tmpVolumeMount,
} from './pod-template.ts';
import {
  buildHeadlessService,
  buildRedisGroupPodDisruptionBudget,
  type RedisInputs,
  redisGroupEnv,
  redisGroupHash,
  scriptsVolume,
  spreadOverNodes,
} from './redis.ts';
import { SCRIPTS_MOUNT_PATH } from './redis-scripts.ts';

/**
 * The Sentinels: as many as Redis pods, in their own StatefulSet so a Sentinel is not lost with
 * the Redis pod it watches, and so each has a stable DNS name the others and the clients use.
 * Their state lives in an emptyDir: it survives container restarts, and a rescheduled Sentinel
 * learns the rest again from its peers and the primary.
 */

/** The Sentinel headless Service. */
export function buildSentinelService(tenant: WhatsAppTenant): V1Service {
  return buildHeadlessService(tenant, 'sentinel');
}

/** The Sentinel PDB. */
export function buildSentinelPodDisruptionBudget(tenant: WhatsAppTenant): V1PodDisruptionBudget {
  return buildRedisGroupPodDisruptionBudget(tenant, 'sentinel');
}

/** The Sentinel StatefulSet. */
export function buildSentinelStatefulSet(
  tenant: WhatsAppTenant,
  config: OperatorConfig,
  inputs: RedisInputs,
): V1StatefulSet {
  const names = childNames(tenant);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: childMetadata(tenant, names.sentinel, 'sentinel'),
    spec: {
      serviceName: names.sentinel,
      replicas: tenant.spec.redis.sentinel.replicas,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: selectorLabels(tenant, 'sentinel') },
      template: {
        metadata: {
          labels: componentLabels(tenant, 'sentinel'),
          annotations: { [CONFIG_HASH_ANNOTATION]: redisGroupHash(tenant, inputs) },
        },
        spec: {
          // Same ServiceAccount as Redis: neither talks to the Kubernetes API, one identity is enough.
          ...basePodSpec(config, names.redis),
          affinity: spreadOverNodes(tenant, 'sentinel'),
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              ...baseContainer(config, 'sentinel', tenantImages(tenant, config).redis),
              command: ['sh', `${SCRIPTS_MOUNT_PATH}/sentinel-start.sh`],
              ports: [{ name: 'sentinel', containerPort: PORTS.sentinel, protocol: 'TCP' }],
              env: redisGroupEnv(tenant, config),
              resources: resourceRequirements(undefined, DEFAULT_RESOURCES.sentinel),
              // The start script waits up to two minutes for the primary's DNS name.
              startupProbe: { tcpSocket: { port: 'sentinel' }, periodSeconds: 5, failureThreshold: 36 },
              livenessProbe: { tcpSocket: { port: 'sentinel' }, periodSeconds: 10, failureThreshold: 6 },
              readinessProbe: {
                exec: { command: ['sh', `${SCRIPTS_MOUNT_PATH}/sentinel-ready.sh`] },
                periodSeconds: 5,
                timeoutSeconds: 3,
              },
              volumeMounts: [
                { name: 'sentinel-data', mountPath: '/data' },
                { name: 'scripts', mountPath: SCRIPTS_MOUNT_PATH, readOnly: true },
                tmpVolumeMount(),
              ],
            },
          ],
          volumes: [
            { name: 'sentinel-data', emptyDir: { sizeLimit: '16Mi' } },
            scriptsVolume(tenant),
            tmpVolume(),
          ],
        },
      },
    },
  };
}

import type { V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { settingsData, tenantSettings } from './config-map.ts';
import { childNames, componentLabels, PORTS, selectorLabels } from './names.ts';
import { type OperatorConfig, tenantImages } from './operator-config.ts';
import { childMetadata } from './owner-reference.ts';
import {
  baseContainer,
  basePodSpec,
  DEFAULT_RESOURCES,
  podInputsAnnotation,
  resourceRequirements,
  serviceProbes,
  tmpVolume,
  tmpVolumeMount,
} from './pod-template.ts';
import { serviceEnv } from './service-env.ts';
import {
  type ServiceInputs,
  serviceVolumeMounts,
  serviceVolumes,
  spreadConstraints,
} from './service-pods.ts';

/**
 * The workers: a Deployment, not a StatefulSet. A worker owns sessions through leases in Redis,
 * claimed and handed over at run time, so no session is tied to a pod name or a volume: pods
 * need no stable identity or storage, and a Deployment's surge rollout (a new worker up before
 * an old one leaves) hands sessions over with less time unowned than a StatefulSet's
 * one-by-one replacement.
 */

/** Worker replicas: the spec's, 0 when suspended. */
export function workerReplicas(tenant: WhatsAppTenant): number {
  return tenant.spec.suspend ? 0 : tenant.spec.workers.replicas;
}

/** The worker Deployment. */
export function buildWorkerDeployment(
  tenant: WhatsAppTenant,
  config: OperatorConfig,
  inputs: ServiceInputs,
): V1Deployment {
  const names = childNames(tenant);
  const settings = tenantSettings(tenant, config);
  const env = serviceEnv(tenant, settings, 'worker');
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(tenant, names.worker, 'worker'),
    spec: {
      replicas: workerReplicas(tenant),
      selector: { matchLabels: selectorLabels(tenant, 'worker') },
      // One new worker before one old leaves: its sessions move to pods that are already up.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: componentLabels(tenant, 'worker'),
          annotations: podInputsAnnotation(env, settingsData(settings), inputs.secretDigests),
        },
        spec: {
          ...basePodSpec(config, names.worker),
          topologySpreadConstraints: spreadConstraints(tenant, 'worker'),
          // On SIGTERM a worker closes its sockets, finishes in-flight sends and releases its
          // leases so another worker claims the sessions at once instead of after a lease TTL.
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              ...baseContainer(config, 'worker', tenantImages(tenant, config).worker),
              ports: [{ name: 'metrics', containerPort: PORTS.metrics, protocol: 'TCP' }],
              env,
              resources: resourceRequirements(tenant.spec.workers.resources, DEFAULT_RESOURCES.worker),
              // Workers serve only metrics and health, on one port.
              ...serviceProbes('metrics'),
              volumeMounts: [...serviceVolumeMounts(tenant), tmpVolumeMount()],
            },
          ],
          volumes: [...serviceVolumes(tenant), tmpVolume()],
        },
      },
    },
  };
}

/** Headless Service over the workers, so the ServiceMonitor finds their metrics endpoints. */
export function buildWorkerService(tenant: WhatsAppTenant): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(tenant, childNames(tenant).worker, 'worker'),
    spec: {
      clusterIP: 'None',
      selector: selectorLabels(tenant, 'worker'),
      ports: [{ name: 'metrics', port: PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' }],
    },
  };
}

/**
 * The worker PDB: one voluntary disruption at a time, so a drain moves one worker's sessions
 * before the next. maxUnavailable rather than minAvailable: with one worker a drain can still
 * proceed (its sessions wait one handover) instead of blocking forever.
 */
export function buildWorkerPodDisruptionBudget(tenant: WhatsAppTenant): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(tenant, childNames(tenant).worker, 'worker'),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(tenant, 'worker') } },
  };
}

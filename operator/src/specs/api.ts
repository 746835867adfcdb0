import type {
  V1Deployment,
  V1Ingress,
  V1PodDisruptionBudget,
  V1Service,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
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

/** The API Deployment and its PodDisruptionBudget. */

/**
 * replicas of the API Deployment: 0 when suspended; absent while the autoscaler owns it, since
 * a value here would be re-applied on every reconcile and fight the HPA's own.
 */
export function apiReplicas(tenant: WhatsAppTenant): number | undefined {
  const { api, suspend } = tenant.spec;
  if (suspend) return 0;
  return api.autoscaling.enabled ? undefined : api.replicas;
}

/**
 * Seconds an API pod keeps serving after it is told to stop, before SIGTERM. Removing a pod
 * from the Service's endpoints and stopping it happen at once: kube-proxy and the ingress
 * controller learn of the removal a few seconds later and send new requests to it meanwhile,
 * which a pod that already closed its listener answers with a refused connection (a 502 at the
 * ingress). The preStop sleep covers that propagation. It is the kubelet's `sleep` lifecycle
 * action (GA in Kubernetes 1.32), so the image needs no `sleep` binary.
 */
export const API_PRESTOP_SLEEP_SECONDS = 10;

/**
 * Seconds between the stop and SIGKILL: the preStop sleep, then the API's SIGTERM drain (it
 * stops accepting, lets in-flight requests finish, closes its clients) with 30 s for it, as
 * before the sleep was added.
 */
export const API_TERMINATION_GRACE_SECONDS = API_PRESTOP_SLEEP_SECONDS + 30;

/** The API Deployment. */
export function buildApiDeployment(
  tenant: WhatsAppTenant,
  config: OperatorConfig,
  inputs: ServiceInputs,
): V1Deployment {
  const names = childNames(tenant);
  const settings = tenantSettings(tenant, config);
  const env = serviceEnv(tenant, settings, 'api');
  const replicas = apiReplicas(tenant);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(tenant, names.api, 'api'),
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: selectorLabels(tenant, 'api') },
      // Surge, never drop below the wanted count: the API is stateless, extra pods are cheap.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: componentLabels(tenant, 'api'),
          annotations: podInputsAnnotation(env, settingsData(settings), inputs.secretDigests),
        },
        spec: {
          ...basePodSpec(config, names.api),
          topologySpreadConstraints: spreadConstraints(tenant, 'api'),
          terminationGracePeriodSeconds: API_TERMINATION_GRACE_SECONDS,
          containers: [
            {
              ...baseContainer(config, 'api', tenantImages(tenant, config).api),
              lifecycle: { preStop: { sleep: { seconds: API_PRESTOP_SLEEP_SECONDS } } },
              ports: [
                { name: 'http', containerPort: PORTS.http, protocol: 'TCP' },
                { name: 'metrics', containerPort: PORTS.metrics, protocol: 'TCP' },
              ],
              env,
              resources: resourceRequirements(tenant.spec.api.resources, DEFAULT_RESOURCES.api),
              ...serviceProbes('http'),
              volumeMounts: [...serviceVolumeMounts(tenant), tmpVolumeMount()],
            },
          ],
          volumes: [...serviceVolumes(tenant), tmpVolume()],
        },
      },
    },
  };
}

/** The API PDB: a drain takes one API pod at a time. */
export function buildApiPodDisruptionBudget(tenant: WhatsAppTenant): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(tenant, childNames(tenant).api, 'api'),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(tenant, 'api') } },
  };
}

/**
 * The API Service: `http` for the Ingress (port 80, so in-cluster callers need no port), and
 * `metrics` for the ServiceMonitor.
 */
export function buildApiService(tenant: WhatsAppTenant): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(tenant, childNames(tenant).api, 'api'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(tenant, 'api'),
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'metrics', port: PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

/**
 * The Ingress in front of the API (inbox, REST API, Meta's webhooks all on one host); undefined
 * when spec.api.ingress is unset, and the controller then deletes any it made before.
 */
export function buildApiIngress(tenant: WhatsAppTenant): V1Ingress | undefined {
  const ingress = tenant.spec.api.ingress;
  if (ingress === undefined) return undefined;
  const name = childNames(tenant).api;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: childMetadata(
      tenant,
      name,
      'api',
      ingress.annotations ? { annotations: ingress.annotations } : {},
    ),
    spec: {
      ...(ingress.className ? { ingressClassName: ingress.className } : {}),
      ...(ingress.tlsSecretName
        ? { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] }
        : {}),
      rules: [
        {
          host: ingress.host,
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name, port: { name: 'http' } } } },
            ],
          },
        },
      ],
    },
  };
}

/**
 * The API's HorizontalPodAutoscaler (CPU); undefined when autoscaling is off or the tenant is
 * suspended (an HPA would scale a suspended API back up to minReplicas).
 */
export function buildApiAutoscaler(tenant: WhatsAppTenant): V2HorizontalPodAutoscaler | undefined {
  const { autoscaling } = tenant.spec.api;
  if (!autoscaling.enabled || tenant.spec.suspend) return undefined;
  const name = childNames(tenant).api;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(tenant, name, 'api'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: autoscaling.targetCPUUtilizationPercentage },
          },
        },
      ],
    },
  };
}

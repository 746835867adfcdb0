import type { KubernetesObject } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import {
  buildApiAutoscaler,
  buildApiDeployment,
  buildApiIngress,
  buildApiPodDisruptionBudget,
  buildApiService,
} from './api.ts';
import { buildConfigMap } from './config-map.ts';
import { buildNetworkPolicies } from './network-policies.ts';
import type { OperatorConfig } from './operator-config.ts';
import type { SecretDigests } from './pod-template.ts';
import { buildPrometheusRule } from './prometheus-rule.ts';
import { buildRedisPodDisruptionBudget, buildRedisService, buildRedisStatefulSet } from './redis.ts';
import { buildRedisScriptsConfigMap } from './redis-scripts.ts';
import {
  buildSentinelPodDisruptionBudget,
  buildSentinelService,
  buildSentinelStatefulSet,
} from './sentinel.ts';
import { buildServiceAccounts } from './service-accounts.ts';
import { buildServiceMonitor } from './service-monitor.ts';
import { buildWorkerDeployment, buildWorkerPodDisruptionBudget, buildWorkerService } from './worker.ts';

/** What the controller knows that the tenant does not say. */
export interface ChildrenInputs {
  /** Digests of the Secrets the pods read, by name. */
  secretDigests: SecretDigests;
  /** The cluster serves monitoring.coreos.com/v1 ServiceMonitors (from API discovery). */
  serviceMonitorsAvailable: boolean;
  /** The cluster serves monitoring.coreos.com/v1 PrometheusRules (from API discovery); false when unset. */
  prometheusRulesAvailable?: boolean;
}

/**
 * Every child the controller server-side applies on each reconcile, in an order that lets each
 * one find what it references (ServiceAccounts and ConfigMaps before the pods that use them,
 * Redis before its clients). Not included: the generated and database Secrets and the migration
 * Job, which are created once and never re-applied (see their builders), and anything the spec
 * does not want (an Ingress without spec.api.ingress), which the controller deletes.
 */
export function desiredChildren(
  tenant: WhatsAppTenant,
  config: OperatorConfig,
  inputs: ChildrenInputs,
): KubernetesObject[] {
  const sentinel = tenant.spec.redis.mode === 'sentinel';
  const services = { secretDigests: inputs.secretDigests };
  const children: (KubernetesObject | undefined)[] = [
    ...buildServiceAccounts(tenant),
    buildConfigMap(tenant, config),
    ...buildNetworkPolicies(tenant, config),
    ...(sentinel
      ? [
          buildRedisScriptsConfigMap(tenant),
          buildRedisService(tenant),
          buildSentinelService(tenant),
          buildRedisStatefulSet(tenant, config, services),
          buildSentinelStatefulSet(tenant, config, services),
          buildRedisPodDisruptionBudget(tenant),
          buildSentinelPodDisruptionBudget(tenant),
        ]
      : []),
    buildApiService(tenant),
    buildApiDeployment(tenant, config, services),
    buildApiPodDisruptionBudget(tenant),
    buildApiIngress(tenant),
    buildApiAutoscaler(tenant),
    buildWorkerService(tenant),
    buildWorkerDeployment(tenant, config, services),
    buildWorkerPodDisruptionBudget(tenant),
    inputs.serviceMonitorsAvailable ? buildServiceMonitor(tenant) : undefined,
    inputs.prometheusRulesAvailable ? buildPrometheusRule(tenant) : undefined,
  ];
  return children.filter((child): child is KubernetesObject => child !== undefined);
}

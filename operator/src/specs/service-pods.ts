import type { V1TopologySpreadConstraint, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { MEDIA_MOUNT_PATH, type WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { CONFIG_MOUNT_PATH, SESSIONS_FILE } from './config-map.ts';
import { type Component, childNames, selectorLabels } from './names.ts';
import type { SecretDigests } from './pod-template.ts';
import { secretProviderVolumeMounts, secretProviderVolumes } from './secret-provider.ts';

/** What the API and worker pods share beyond pod-template.ts: volumes and spreading. */

/** Inputs of the API and worker builders that do not come from the tenant. */
export interface ServiceInputs {
  /** Digests of the Secrets the pods read through env, by Secret name. */
  secretDigests: SecretDigests;
}

/** The ConfigMap's sessions file, and the secret provider's volumes. */
export function serviceVolumes(tenant: WhatsAppTenant): V1Volume[] {
  return [
    {
      name: 'config',
      // Only the sessions file: the settings arrive as env, where the config hash sees them.
      configMap: { name: childNames(tenant).config, items: [{ key: SESSIONS_FILE, path: SESSIONS_FILE }] },
    },
    ...secretProviderVolumes(tenant),
    ...(tenant.spec.media.storage === 'volume' && tenant.spec.media.volume
      ? [{ name: 'media', persistentVolumeClaim: { claimName: tenant.spec.media.volume.claimName } }]
      : []),
  ];
}

/** Mounts of serviceVolumes. A whole directory, not subPath: subPath mounts never update. */
export function serviceVolumeMounts(tenant: WhatsAppTenant): V1VolumeMount[] {
  return [
    { name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true },
    ...secretProviderVolumeMounts(tenant),
    ...(tenant.spec.media.storage === 'volume' ? [{ name: 'media', mountPath: MEDIA_MOUNT_PATH }] : []),
  ];
}

/**
 * Spread a Deployment's pods over nodes, best effort (ScheduleAnyway): losing a node should cost
 * a share of the pods, but a small cluster must still run them all.
 */
export function spreadConstraints(
  tenant: WhatsAppTenant,
  component: Component,
): V1TopologySpreadConstraint[] {
  return [
    {
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: selectorLabels(tenant, component) },
    },
  ];
}

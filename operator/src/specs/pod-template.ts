import type {
  V1Container,
  V1EnvVar,
  V1PodSecurityContext,
  V1PodSpec,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { ResourceRequirements } from '../api/v1alpha1/index.ts';
import { configHashAnnotation } from './config-hash.ts';
import type { OperatorConfig } from './operator-config.ts';

/** What every tenant pod shares: the restricted security profile, /tmp, resources, env helpers. */

/** UID and GID every tenant container runs as: unprivileged, and no user in the images has it. */
export const RUN_AS_USER = 10001;

/**
 * Pod-level security: the Pod Security Standards' "restricted" profile. fsGroup makes mounted
 * volumes (Redis data) writable by RUN_AS_USER; OnRootMismatch skips the recursive chown on
 * every start once ownership is right.
 */
export function podSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    fsGroup: RUN_AS_USER,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level security, repeated on each container so it holds whatever the pod says. */
export function containerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Name of the /tmp volume every pod has. */
export const TMP_VOLUME = 'tmp';

/** /tmp as an emptyDir: the root filesystem is read-only, and Node, Redis and sh write temp files. */
export function tmpVolume(): V1Volume {
  return { name: TMP_VOLUME, emptyDir: { sizeLimit: '256Mi' } };
}

/** Mount of the /tmp volume. */
export function tmpVolumeMount(): V1VolumeMount {
  return { name: TMP_VOLUME, mountPath: '/tmp' };
}

/**
 * Operator defaults per kind of pod. Memory has a limit (a leak is killed, not left to starve the
 * node); CPU has none, since a CPU limit throttles a busy pod even when the node has CPU to spare.
 */
export const DEFAULT_RESOURCES = {
  api: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
  // Each Baileys session holds a socket and its signal keys in memory: about 10 MiB each, so the
  // default covers maxSessionsPerWorker's default of 50 with room.
  worker: { requests: { cpu: '200m', memory: '512Mi' }, limits: { memory: '1Gi' } },
  redis: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
  sentinel: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '64Mi' } },
  migrations: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
} as const satisfies Record<string, V1ResourceRequirements>;

function quantities(list: Record<string, string | number | undefined> | undefined) {
  if (list === undefined) return undefined;
  const entries = Object.entries(list).filter(
    (entry): entry is [string, string | number] => entry[1] !== undefined,
  );
  return Object.fromEntries(entries.map(([name, value]) => [name, String(value)]));
}

/**
 * The spec's requirements when given, else the defaults. Replaced as a whole rather than merged:
 * a merge could pair a user's lower limit with a default higher request, which Kubernetes
 * rejects; and what is written in the tenant is then exactly what runs.
 */
export function resourceRequirements(
  spec: ResourceRequirements | undefined,
  defaults: V1ResourceRequirements,
): V1ResourceRequirements {
  if (spec === undefined) return structuredClone(defaults);
  const requests = quantities(spec.requests);
  const limits = quantities(spec.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

/** An environment variable from a key of the tenant's ConfigMap (the key is the variable's name). */
export function configMapEnv(name: string, configMap: string): V1EnvVar {
  return { name, valueFrom: { configMapKeyRef: { name: configMap, key: name } } };
}

/** An environment variable from a Secret key. */
export function secretEnv(name: string, secret: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** An environment variable from the pod's own fields (downward API), e.g. metadata.name. */
export function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/**
 * Digest of each Secret's content, by Secret name. The controller supplies it (it reads the
 * Secrets); builders hash the digests of the Secrets their pods read through env, so rotating a
 * Secret rolls exactly the pods that read it. A Secret without a digest hashes as unknown.
 */
export type SecretDigests = Readonly<Record<string, string>>;

/**
 * The config-hash annotation for a pod whose environment is `env`: the values of the ConfigMap
 * keys it reads (from `settings`, the ConfigMap's data) and the digests of the Secrets it reads,
 * both derived from `env` itself so the hash covers exactly what the pod consumes.
 */
export function podInputsAnnotation(
  env: readonly V1EnvVar[],
  settings: Readonly<Record<string, string>>,
  secretDigests: SecretDigests,
  extra: Record<string, unknown> = {},
): Record<string, string> {
  const config: Record<string, string | null> = {};
  const secrets: Record<string, string | null> = {};
  for (const variable of env) {
    const configKey = variable.valueFrom?.configMapKeyRef?.key;
    if (configKey !== undefined) config[configKey] = settings[configKey] ?? null;
    const secretName = variable.valueFrom?.secretKeyRef?.name;
    if (secretName !== undefined) secrets[secretName] = secretDigests[secretName] ?? null;
  }
  return configHashAnnotation({ config, secrets, ...extra });
}

/** Pod spec fields every tenant pod has. */
export function basePodSpec(
  config: OperatorConfig,
  serviceAccountName: string,
): Pick<
  V1PodSpec,
  | 'serviceAccountName'
  | 'automountServiceAccountToken'
  | 'enableServiceLinks'
  | 'securityContext'
  | 'imagePullSecrets'
> {
  return {
    serviceAccountName,
    // No tenant pod talks to the Kubernetes API; a token it does not need is one that can leak.
    automountServiceAccountToken: false,
    // Service links inject <SERVICE>_PORT-style variables for every Service in the namespace; a
    // Service named redis would set REDIS_PORT=tcp://... and confuse the Redis client's config.
    enableServiceLinks: false,
    securityContext: podSecurityContext(),
    ...(config.imagePullSecrets?.length
      ? { imagePullSecrets: config.imagePullSecrets.map((name) => ({ name })) }
      : {}),
  };
}

/** Container fields every tenant container has. */
export function baseContainer(
  config: OperatorConfig,
  name: string,
  image: string,
): Pick<V1Container, 'name' | 'image' | 'imagePullPolicy' | 'securityContext'> {
  return {
    name,
    image,
    ...(config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {}),
    securityContext: containerSecurityContext(),
  };
}

/**
 * Probes of the API and worker containers, on the named port: `/livez` for startup (up to a
 * minute to start: migrations are done by then, but the inbox bundle and Prisma load) and
 * liveness, `/readyz` for readiness (dependencies reachable).
 */
export function serviceProbes(
  port: string,
): Pick<V1Container, 'startupProbe' | 'livenessProbe' | 'readinessProbe'> {
  return {
    startupProbe: { httpGet: { path: '/livez', port }, periodSeconds: 2, failureThreshold: 30 },
    livenessProbe: { httpGet: { path: '/livez', port }, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/readyz', port }, periodSeconds: 5, failureThreshold: 2 },
  };
}

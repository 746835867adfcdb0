import type { V1EnvVar } from '@kubernetes/client-node';
import { EMAIL_SECRET_KEYS, SSO_SECRET_KEYS, type WhatsAppTenant } from '../api/v1alpha1/index.ts';
import type { TenantSettings } from './config-map.ts';
import { DATABASE_SECRET_KEYS, databaseSecretName } from './database-secret.ts';
import { GENERATED_SECRET_KEYS } from './generated-secret.ts';
import { childNames } from './names.ts';
import { configMapEnv, fieldEnv, secretEnv } from './pod-template.ts';

/** The environment of the API and worker containers: settings by reference, then secrets. */

/** Which service a container runs. */
export type ServiceComponent = 'api' | 'worker';

/**
 * Redis credentials: in sentinel mode the component's own ACL user (`api` or `worker`, see
 * packages/redis's acl.ts) and its generated password; external: the tenant's URL.
 */
export function redisSecretEnv(tenant: WhatsAppTenant, component: ServiceComponent): V1EnvVar[] {
  const { redis } = tenant.spec;
  if (redis.mode === 'external') {
    const ref = redis.external!.secretRef;
    return [secretEnv('REDIS_URL', ref.name, ref.key)];
  }
  const password =
    component === 'api' ? GENERATED_SECRET_KEYS.redisApiPassword : GENERATED_SECRET_KEYS.redisWorkerPassword;
  return [
    { name: 'REDIS_USERNAME', value: component },
    secretEnv('REDIS_PASSWORD', childNames(tenant).generatedSecret, password),
  ];
}

/** Keys of the Secret `media.s3.secretRef` names. */
export const MEDIA_SECRET_KEYS = { accessKeyId: 'accessKeyId', secretAccessKey: 'secretAccessKey' } as const;

/** The S3 access key of the media store, when the tenant gives one. */
export function mediaSecretEnv(tenant: WhatsAppTenant): V1EnvVar[] {
  const ref = tenant.spec.media.storage === 's3' ? tenant.spec.media.s3?.secretRef : undefined;
  if (!ref) return [];
  return [
    secretEnv('S3_ACCESS_KEY_ID', ref.name, MEDIA_SECRET_KEYS.accessKeyId),
    secretEnv('S3_SECRET_ACCESS_KEY', ref.name, MEDIA_SECRET_KEYS.secretAccessKey),
  ];
}

/** The SMTP AUTH credentials of the API, when the tenant's email section names a Secret. */
export function emailSecretEnv(tenant: WhatsAppTenant): V1EnvVar[] {
  const ref = tenant.spec.email?.secretRef;
  if (!ref) return [];
  return [
    secretEnv('SMTP_USERNAME', ref.name, EMAIL_SECRET_KEYS.username),
    secretEnv('SMTP_PASSWORD', ref.name, EMAIL_SECRET_KEYS.password),
  ];
}

/** The OpenID Connect client secret of the API, from the Secret the tenant's sso section names. */
export function ssoSecretEnv(tenant: WhatsAppTenant): V1EnvVar[] {
  const ref = tenant.spec.sso?.secretRef;
  if (!ref) return [];
  return [secretEnv('SSO_CLIENT_SECRET', ref.name, SSO_SECRET_KEYS.clientSecret)];
}

/** The environment of an API or worker container. */
export function serviceEnv(
  tenant: WhatsAppTenant,
  settings: TenantSettings,
  component: ServiceComponent,
): V1EnvVar[] {
  const names = childNames(tenant);
  const keys = [...Object.keys(settings.shared), ...Object.keys(settings[component])].sort();
  const generated = names.generatedSecret;
  return [
    // Not in the ConfigMap: it differs per component, and the pod template is its home.
    { name: 'OTEL_SERVICE_NAME', value: `switchboard-${component}` },
    // The pod's name identifies a worker as a session lease holder, and both in logs.
    fieldEnv('POD_NAME', 'metadata.name'),
    ...keys.map((key) => configMapEnv(key, names.config)),
    secretEnv('DATABASE_URL', databaseSecretName(tenant), DATABASE_SECRET_KEYS.appUrl),
    ...redisSecretEnv(tenant, component),
    // The API's bearer token for /internal; the worker opens with it only webhook secrets sealed
    // before SEALING_KEYS existed (and re-seals them with SEALING_KEYS' current key).
    secretEnv('INTERNAL_TOKEN', generated, GENERATED_SECRET_KEYS.internalToken),
    secretEnv('SEALING_KEYS', generated, GENERATED_SECRET_KEYS.sealingKeys),
    ...mediaSecretEnv(tenant),
    // Sentry's DSN holds a key: by reference to the tenant's Secret, never in the ConfigMap.
    ...(tenant.spec.observability.sentry
      ? [
          secretEnv(
            'SENTRY_DSN',
            tenant.spec.observability.sentry.dsnSecretRef.name,
            tenant.spec.observability.sentry.dsnSecretRef.key,
          ),
        ]
      : []),
    ...(component === 'api'
      ? [
          secretEnv('JWT_SIGNING_KEY', generated, GENERATED_SECRET_KEYS.jwtSigningKey),
          ...emailSecretEnv(tenant),
          ...ssoSecretEnv(tenant),
        ]
      : [secretEnv('AUTH_STATE_KEYS', generated, GENERATED_SECRET_KEYS.authStateKeys)]),
  ];
}

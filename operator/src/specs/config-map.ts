import type { V1ConfigMap } from '@kubernetes/client-node';
import { MEDIA_MOUNT_PATH, type WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { SpecError } from './errors.ts';
import { childNames, PORTS, REDIS_MASTER_NAME, statefulPodHost, tenantNamespace } from './names.ts';
import type { OperatorConfig } from './operator-config.ts';
import { childMetadata } from './owner-reference.ts';
import { type SessionCredentials, sessionCredentials, VAULT_TOKEN_PATH } from './secret-provider.ts';

/**
 * The tenant's ConfigMap: the non-secret settings the API and workers read as environment
 * variables (named as packages/config reads them), and the declared sessions as a file.
 *
 * Settings are split by reader so each Deployment's config hash covers only its own: changing
 * maxSessionsPerWorker rolls the workers, not the API. The sessions file is mounted rather
 * than read as env: a mounted ConfigMap updates in place, so declaring a session restarts
 * nothing, and it is therefore left out of every hash.
 */

/** Where the ConfigMap is mounted in the API and worker pods. */
export const CONFIG_MOUNT_PATH = '/etc/switchboard';
/** ConfigMap key (and file name) of the declared sessions. */
export const SESSIONS_FILE = 'sessions.json';

/** Environment settings, by the component that reads them. */
export interface TenantSettings {
  /** Read by the API and the workers. */
  shared: Record<string, string>;
  /** Read by the API only. */
  api: Record<string, string>;
  /** Read by the workers only. */
  worker: Record<string, string>;
}

/** A session as the services read it from sessions.json. */
export interface DeclaredSession {
  name: string;
  channel: 'baileys' | 'cloud-api';
  phoneNumberId?: string;
  /** `secret://` references to the cloud-api credentials. */
  credentials?: SessionCredentials;
}

/** The URL the inbox and API are served at, when the tenant has an Ingress. */
export function publicUrl(tenant: WhatsAppTenant): string | undefined {
  const ingress = tenant.spec.api.ingress;
  if (ingress === undefined) return undefined;
  return `${ingress.tlsSecretName ? 'https' : 'http'}://${ingress.host}`;
}

/** The environment settings of a tenant's services. */
export function tenantSettings(tenant: WhatsAppTenant, config: OperatorConfig): TenantSettings {
  const { spec } = tenant;
  const names = childNames(tenant);
  const namespace = tenantNamespace(tenant);
  const shared: Record<string, string> = {
    SWITCHBOARD_TENANT: tenant.metadata.name,
    SWITCHBOARD_DISPLAY_NAME: spec.displayName ?? tenant.metadata.name,
    SWITCHBOARD_SESSIONS_FILE: `${CONFIG_MOUNT_PATH}/${SESSIONS_FILE}`,
    LOG_LEVEL: config.logLevel,
    METRICS_PORT: String(PORTS.metrics),
    SECRETS_PROVIDER: spec.secrets.provider,
  };
  if (spec.redis.mode === 'sentinel') {
    shared.REDIS_MODE = 'sentinel';
    shared.REDIS_SENTINELS = Array.from(
      { length: spec.redis.sentinel.replicas },
      (_, ordinal) =>
        `${statefulPodHost(names.sentinel, ordinal, namespace, config.clusterDomain)}:${PORTS.sentinel}`,
    ).join(',');
    shared.REDIS_SENTINEL_NAME = REDIS_MASTER_NAME;
  } else {
    // The URL itself is secret (it carries the password): it comes from the Secret as env.
    shared.REDIS_MODE = 'standalone';
  }
  if (spec.observability.tracing) shared.OTEL_EXPORTER_OTLP_ENDPOINT = spec.observability.tracing.endpoint;
  if (spec.secrets.vault) {
    shared.VAULT_ADDR = spec.secrets.vault.address;
    shared.VAULT_ROLE = spec.secrets.vault.role;
    shared.VAULT_AUTH_MOUNT_PATH = spec.secrets.vault.authMountPath;
    shared.VAULT_TOKEN_PATH = VAULT_TOKEN_PATH;
  }
  if (spec.secrets.aws) shared.AWS_REGION = spec.secrets.aws.region;
  Object.assign(shared, mediaSettings(tenant));

  const api: Record<string, string> = { PORT: String(PORTS.http) };
  const url = publicUrl(tenant);
  if (url !== undefined) api.PUBLIC_URL = url;
  // The relay and sender; its credentials arrive as Secret env (service-env.ts).
  if (spec.email) {
    api.SMTP_HOST = spec.email.host;
    if (spec.email.port !== undefined) api.SMTP_PORT = String(spec.email.port);
    api.SMTP_TLS = spec.email.tls;
    api.SMTP_FROM = spec.email.from;
  }
  // The identity provider and the sign-in policy; the client secret arrives as Secret env
  // (service-env.ts), the redirect URI is PUBLIC_URL's /sso/callback.
  if (spec.sso) {
    api.SSO_ISSUER = spec.sso.issuer;
    api.SSO_CLIENT_ID = spec.sso.clientId;
    if (spec.sso.allowedDomains?.length) api.SSO_ALLOWED_DOMAINS = spec.sso.allowedDomains.join(',');
    api.SSO_AUTO_PROVISION = String(spec.sso.autoProvision);
    api.SSO_DEFAULT_ROLE = spec.sso.defaultRole;
    api.SSO_ONLY = String(spec.sso.ssoOnly);
  }

  const worker: Record<string, string> = {
    MAX_SESSIONS_PER_WORKER: String(spec.workers.maxSessionsPerWorker),
    OUTBOUND_CONTACT_PER_MINUTE: String(spec.outbound.perContactPerMinute),
    OUTBOUND_SESSION_PER_MINUTE: String(spec.outbound.perSessionPerMinute),
    OUTBOUND_TYPING_DELAY: String(spec.outbound.typingDelay),
  };
  if (spec.cloudApi.baseUrl !== undefined) worker.CLOUD_API_BASE_URL = spec.cloudApi.baseUrl;
  // The AI assistant's platform limits (the workers' default is on, any model).
  if (spec.assistant?.enabled === false || config.assistantEnabled === false)
    worker.ASSISTANT_ENABLED = 'false';
  if (spec.assistant?.allowedModels) worker.ASSISTANT_ALLOWED_MODELS = spec.assistant.allowedModels.join(',');
  return { shared, api, worker };
}

/**
 * Where the services keep media (the names @switchboard/messaging's media settings read): none,
 * the mounted claim, or the bucket. The S3 access key, when there is one, arrives as Secret env.
 */
export function mediaSettings(tenant: WhatsAppTenant): Record<string, string> {
  const { media } = tenant.spec;
  if (media.storage === 'volume') return { MEDIA_STORAGE: 'local', MEDIA_DIR: MEDIA_MOUNT_PATH };
  if (media.storage === 's3' && media.s3) {
    return {
      MEDIA_STORAGE: 's3',
      S3_BUCKET: media.s3.bucket,
      S3_REGION: media.s3.region,
      ...(media.s3.endpoint ? { S3_ENDPOINT: media.s3.endpoint } : {}),
      S3_FORCE_PATH_STYLE: String(media.s3.forcePathStyle),
    };
  }
  return { MEDIA_STORAGE: 'none' };
}

/** The declared sessions, with references to their credentials. */
export function declaredSessions(tenant: WhatsAppTenant): DeclaredSession[] {
  return tenant.spec.sessions.map((session) => {
    const credentials = sessionCredentials(tenant, session);
    return {
      name: session.name,
      channel: session.channel,
      ...(session.phoneNumberId ? { phoneNumberId: session.phoneNumberId } : {}),
      ...(credentials ? { credentials } : {}),
    };
  });
}

/** All settings in one map: the ConfigMap's environment keys. */
export function settingsData(settings: TenantSettings): Record<string, string> {
  const data: Record<string, string> = {};
  for (const part of [settings.shared, settings.api, settings.worker]) {
    for (const [key, value] of Object.entries(part)) {
      // One key, one value: a key two components read differently would make one of them wrong.
      if (key in data && data[key] !== value) {
        throw new SpecError('SETTING_CONFLICT', `setting ${key} has two values in the tenant ConfigMap`);
      }
      data[key] = value;
    }
  }
  return data;
}

/** The tenant's ConfigMap. */
export function buildConfigMap(tenant: WhatsAppTenant, config: OperatorConfig): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMetadata(tenant, childNames(tenant).config, 'config'),
    data: {
      ...settingsData(tenantSettings(tenant, config)),
      [SESSIONS_FILE]: `${JSON.stringify(declaredSessions(tenant), null, 2)}\n`,
    },
  };
}

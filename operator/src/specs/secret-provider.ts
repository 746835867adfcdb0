import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { Session, WhatsAppTenant } from '../api/v1alpha1/index.ts';

/**
 * How the API and workers reach tenant-supplied secrets (cloud-api credentials), per
 * spec.secrets.provider. The services resolve `secret://<provider>/<path>#<key>` references
 * (packages/secrets); this file decides the references and the volumes behind them.
 *
 * - kubernetes: each session's Secret is mounted as files, read through the `file` provider.
 *   Mounted Secrets update in place, so rotating a token restarts nothing.
 * - vault: read from Vault's KV at `<vault.path>/<secretRef.name>`; pods log in with a projected
 *   service account token (the default token is not mounted: see basePodSpec).
 * - aws: read from Secrets Manager at `<aws.namePrefix><secretRef.name>` with the pod's IAM role.
 */

/** Keys a cloud-api session's secret holds. */
export const SESSION_CREDENTIAL_KEYS = ['accessToken', 'appSecret', 'verifyToken'] as const;

/** Where session Secrets are mounted with provider kubernetes: `<path>/<session>/<key>`. */
export const SESSION_CREDENTIALS_PATH = '/var/run/secrets/switchboard/sessions';
/** Where the Vault login token is mounted with provider vault. */
export const VAULT_TOKEN_PATH = '/var/run/secrets/switchboard/vault/token';

const SESSION_CREDENTIALS_VOLUME = 'session-credentials';
const VAULT_TOKEN_VOLUME = 'vault-token';

/** `secret://` references to one session's credentials, by key. */
export type SessionCredentials = Record<(typeof SESSION_CREDENTIAL_KEYS)[number], string>;

/** References to a cloud-api session's credentials; undefined for sessions that have none. */
export function sessionCredentials(tenant: WhatsAppTenant, session: Session): SessionCredentials | undefined {
  const secretName = session.secretRef?.name;
  if (secretName === undefined) return undefined;
  const { secrets } = tenant.spec;
  const reference = (key: string): string => {
    switch (secrets.provider) {
      case 'vault':
        return `secret://vault/${secrets.vault!.path.replace(/\/+$/, '')}/${secretName}#${key}`;
      case 'aws':
        return `secret://aws/${secrets.aws!.namePrefix}${secretName}#${key}`;
      default:
        // The file provider takes the path without its leading slash.
        return `secret://file${SESSION_CREDENTIALS_PATH}/${session.name}/${key}`;
    }
  };
  return Object.fromEntries(
    SESSION_CREDENTIAL_KEYS.map((key) => [key, reference(key)]),
  ) as SessionCredentials;
}

/** Volumes the API and worker pods need for the tenant's secret provider (none for aws). */
export function secretProviderVolumes(tenant: WhatsAppTenant): V1Volume[] {
  const { secrets, sessions } = tenant.spec;
  if (secrets.provider === 'vault') {
    const audience = secrets.vault!.audience;
    return [
      {
        name: VAULT_TOKEN_VOLUME,
        projected: {
          sources: [
            {
              serviceAccountToken: {
                path: 'token',
                // Short-lived and rotated by the kubelet; Vault only needs it at login.
                expirationSeconds: 3600,
                ...(audience ? { audience } : {}),
              },
            },
          ],
        },
      },
    ];
  }
  if (secrets.provider !== 'kubernetes') return [];
  const withSecrets = sessions.filter((session) => session.secretRef !== undefined);
  if (withSecrets.length === 0) return [];
  return [
    {
      name: SESSION_CREDENTIALS_VOLUME,
      projected: {
        // Not optional: a missing Secret keeps the pod from starting with an event that names
        // it, rather than starting a session that fails on its first request.
        sources: withSecrets.map((session) => ({
          secret: {
            name: session.secretRef!.name,
            items: SESSION_CREDENTIAL_KEYS.map((key) => ({ key, path: `${session.name}/${key}` })),
          },
        })),
      },
    },
  ];
}

/** Mounts matching secretProviderVolumes. */
export function secretProviderVolumeMounts(tenant: WhatsAppTenant): V1VolumeMount[] {
  return secretProviderVolumes(tenant).map((volume) =>
    volume.name === VAULT_TOKEN_VOLUME
      ? { name: volume.name, mountPath: VAULT_TOKEN_PATH.replace(/\/token$/, ''), readOnly: true }
      : { name: volume.name, mountPath: SESSION_CREDENTIALS_PATH, readOnly: true },
  );
}

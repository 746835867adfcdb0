import { type RunningMoto, type RunningVault, startMoto, startVault } from '@switchboard/testing/servers';

/**
 * Where a stack keeps its tenants' Cloud API credentials, the way a WhatsAppTenant's
 * `spec.secrets.provider` chooses: `env` (variables of the worker, the stack's first form),
 * `vault` (a Vault dev server, KV v2 at `secret/`, one read-only token per tenant) or `aws`
 * (moto's Secrets Manager). The API and the worker then get the environment the operator
 * writes for that provider and resolve `secret://vault/...` or `secret://aws/...` themselves.
 */
export const STACK_SECRET_STORES = ['env', 'vault', 'aws'] as const;

/** One of `STACK_SECRET_STORES`. */
export type StackSecretStoreKind = (typeof STACK_SECRET_STORES)[number];

/** A Cloud API number's credentials, as the declared session holds them. */
export interface SessionCredentialValues {
  accessToken: string;
  appSecret: string;
  verifyToken: string;
}

/** A stored session: its `secret://` references and the environment that resolves them. */
export interface StoredSession {
  credentials: Record<keyof SessionCredentialValues, string>;
  /** SECRETS_PROVIDER and how to reach the store (VAULT_* or AWS_*), for the API and worker. */
  env: Record<string, string>;
}

/** A running secret store of the stack. */
export interface StackSecretStore {
  kind: 'vault' | 'aws';
  /** Vault's or moto's address. */
  address: string;
  /** Stores a session's credentials for a tenant; each tenant reads only its own. */
  storeSession(slug: string, session: string, values: SessionCredentialValues): Promise<StoredSession>;
  stop(): Promise<void>;
}

const KEYS = ['accessToken', 'appSecret', 'verifyToken'] as const;

function references(prefix: string): StoredSession['credentials'] {
  return Object.fromEntries(KEYS.map((key) => [key, `${prefix}#${key}`])) as StoredSession['credentials'];
}

/** Starts the store for `kind`; undefined for `env`, which needs none. */
export async function startSecretStore(kind: StackSecretStoreKind): Promise<StackSecretStore | undefined> {
  if (kind === 'vault') return vaultStore(await startVault());
  if (kind === 'aws') return awsStore(await startMoto());
  return undefined;
}

function vaultStore(vault: RunningVault): StackSecretStore {
  return {
    kind: 'vault',
    address: vault.address,
    async storeSession(slug, session, values) {
      await vault.putKv2('secret', `switchboard/${slug}/${session}`, { ...values });
      // What a tenant's Vault role grants: reading its own entries, nothing else.
      const policy = `switchboard-${slug}`;
      await vault.requestOk('PUT', `sys/policies/acl/${policy}`, {
        policy: `path "secret/data/switchboard/${slug}/*" { capabilities = ["read"] }`,
      });
      const created = (await vault.requestOk('POST', 'auth/token/create', {
        policies: [policy],
        no_default_policy: true,
        ttl: '24h',
        display_name: `devstack-${slug}`,
      })) as { auth: { client_token: string } };
      return {
        // The form the operator writes for secrets.vault.path `secret/data/switchboard/<slug>`.
        credentials: references(`secret://vault/secret/data/switchboard/${slug}/${session}`),
        env: { SECRETS_PROVIDER: 'vault', VAULT_ADDR: vault.address, VAULT_TOKEN: created.auth.client_token },
      };
    },
    stop: () => vault.stop(),
  };
}

function awsStore(moto: RunningMoto): StackSecretStore {
  return {
    kind: 'aws',
    address: moto.endpoint,
    async storeSession(slug, session, values) {
      // The form the operator writes for secrets.aws.namePrefix `switchboard/<slug>/`.
      const name = `switchboard/${slug}/${session}`;
      await moto.createSecret(name, JSON.stringify(values));
      return {
        credentials: references(`secret://aws/${name}`),
        env: {
          SECRETS_PROVIDER: 'aws',
          AWS_REGION: moto.region,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
          AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
        },
      };
    },
    stop: () => moto.stop(),
  };
}

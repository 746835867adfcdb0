import { z } from 'zod';
import { DEFAULT_SECRET_MAX_STALE_MS, DEFAULT_SECRET_TTL_MS } from './cache.ts';
import { SecretError } from './provider.ts';

/**
 * The environment variables that pick and configure the secret providers of a process: what
 * the operator writes into every API and worker pod (SECRETS_PROVIDER, VAULT_*, AWS_REGION,
 * from the WhatsAppTenant's `spec.secrets`). One zod schema, read once per resolver by
 * `createSecretResolver`; `@switchboard/config` re-exports it as `secretsConfigSchema` so a
 * service's own schema and docs can include it.
 */

/** Values of SECRETS_PROVIDER: the WhatsAppTenant's `spec.secrets.provider`. */
export const SECRETS_PROVIDERS = ['kubernetes', 'vault', 'aws'] as const;

/** Where the kubelet mounts a pod's default service account token. */
export const DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

// The same format as @switchboard/config's duration() (which this package cannot import:
// config depends on secrets): 500ms, 30s, 5m, 1h, 1d, a bare number is milliseconds.
function duration() {
  return z
    .string()
    .trim()
    .regex(DURATION, 'expected a duration such as 500ms, 30s, 5m or 1h (a bare number is milliseconds)')
    .transform((text) => {
      const [, amount, unit] = DURATION.exec(text)!;
      return Math.round(Number(amount) * UNIT_MS[unit ?? 'ms']!);
    });
}

function httpUrl() {
  return z.url({ protocol: /^https?$/, error: 'expected a URL starting with http:// or https://' });
}

/** The secret providers' environment variables. */
export const secretProviderEnvSchema = z
  .object({
    SECRETS_PROVIDER: z
      .enum(SECRETS_PROVIDERS, { error: `expected one of ${SECRETS_PROVIDERS.join(', ')}` })
      .default('kubernetes')
      .describe(
        'Where tenant-supplied secrets live: kubernetes (mounted files), vault or aws; secret://env and secret://file work with every value.',
      ),
    VAULT_ADDR: httpUrl()
      .optional()
      .describe('Vault address, e.g. https://vault.example.com:8200; required when SECRETS_PROVIDER=vault.'),
    VAULT_ROLE: z
      .string()
      .min(1)
      .optional()
      .describe('Role of the Kubernetes auth method to log in to Vault with; set this or VAULT_TOKEN.'),
    VAULT_AUTH_MOUNT_PATH: z
      .string()
      .regex(/^[A-Za-z0-9._\-/]+$/, 'expected a Vault mount path such as kubernetes or k8s/prod')
      .default('kubernetes')
      .describe('Mount path of the Kubernetes auth method.'),
    VAULT_TOKEN_PATH: z
      .string()
      .startsWith('/', 'expected an absolute file path')
      .default(DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH)
      .describe('The service account token file that Kubernetes auth logs in with (re-read at every login).'),
    VAULT_TOKEN: z
      .string()
      .min(1)
      .refine((value) => !value.startsWith('secret://'), {
        message: 'must be the token itself: the secret providers are not running yet when it is read',
      })
      .optional()
      .describe('A Vault token (token auth, for development); set this or VAULT_ROLE.'),
    VAULT_CACERT: z
      .string()
      .startsWith('/', 'expected an absolute file path')
      .optional()
      .describe('PEM file of the CA that signed an https Vault address, when it is not a public one.'),
    AWS_REGION: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as eu-west-1')
      .optional()
      .describe('AWS region of the secrets; required when SECRETS_PROVIDER=aws.'),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: httpUrl()
      .optional()
      .describe('Secrets Manager endpoint other than AWS’s own (a VPC endpoint, a local emulator).'),
    AWS_ACCESS_KEY_ID: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Static AWS access key id; without it the AWS SDK’s credential chain (IRSA, Pod Identity) is used.',
      ),
    AWS_SECRET_ACCESS_KEY: z
      .string()
      .min(1)
      .optional()
      .describe('The secret of AWS_ACCESS_KEY_ID; set both or neither.'),
    AWS_SESSION_TOKEN: z
      .string()
      .min(1)
      .optional()
      .describe('Session token of temporary AWS_ACCESS_KEY_ID credentials.'),
    SECRETS_CACHE_TTL: duration()
      .default(DEFAULT_SECRET_TTL_MS)
      .describe(
        'How long a Vault or AWS secret is served from memory before it is re-read (rotation delay).',
      ),
    SECRETS_MAX_STALE: duration()
      .default(DEFAULT_SECRET_MAX_STALE_MS)
      .describe('How long past its TTL the last good value is served while Vault or AWS cannot be read.'),
  })
  .superRefine(
    (env, ctx) => {
      const need = (name: string, why: string) =>
        ctx.addIssue({ code: 'custom', path: [name], message: why });
      if (env.SECRETS_PROVIDER === 'vault') {
        if (env.VAULT_ADDR === undefined) need('VAULT_ADDR', 'is required when SECRETS_PROVIDER=vault');
        if (env.VAULT_ROLE === undefined && env.VAULT_TOKEN === undefined) {
          need('VAULT_ROLE', 'is required when SECRETS_PROVIDER=vault, unless VAULT_TOKEN is set');
        }
        if (env.VAULT_ROLE !== undefined && env.VAULT_TOKEN !== undefined) {
          need('VAULT_TOKEN', 'cannot be set together with VAULT_ROLE: pick token or Kubernetes auth');
        }
      }
      if (env.SECRETS_PROVIDER === 'aws' && env.AWS_REGION === undefined) {
        need('AWS_REGION', 'is required when SECRETS_PROVIDER=aws');
      }
      if ((env.AWS_ACCESS_KEY_ID === undefined) !== (env.AWS_SECRET_ACCESS_KEY === undefined)) {
        const missing = env.AWS_ACCESS_KEY_ID === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY';
        need(missing, 'is required with the other half of the AWS key pair');
      }
    },
    { when: () => true },
  );

/** Parsed `secretProviderEnvSchema`. */
export type SecretProviderSettings = z.output<typeof secretProviderEnvSchema>;

/**
 * Reads the providers' settings from `env` (an empty string counts as unset, as in
 * `@switchboard/config`). Throws a `SecretError` (`SECRET_PROVIDER_MISCONFIGURED`) naming every
 * bad variable; values never appear in it.
 */
export function readSecretProviderSettings(
  env: Readonly<Record<string, string | undefined>>,
): SecretProviderSettings {
  const input: Record<string, string> = {};
  for (const name of Object.keys(secretProviderEnvSchema.shape)) {
    const value = env[name];
    if (value !== undefined && value !== '') input[name] = value;
  }
  const result = secretProviderEnvSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${String(issue.path[0] ?? '(settings)')}: ${issue.message}`,
  );
  throw new SecretError(
    'SECRET_PROVIDER_MISCONFIGURED',
    `the secret providers' settings are invalid: ${[...new Set(problems)].join('; ')}`,
  );
}

import { boolean, list, secret, url } from '@switchboard/config';
import { z } from 'zod';
import { SSO_PROVISION_ROLES, type SsoSettings } from './settings.ts';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The SSO_* variables of the API (part of its config schema). */
export const ssoConfigSchema = z
  .object({
    SSO_ISSUER: url({ protocols: ['https', 'http'] })
      .refine((value) => {
        const parsed = new URL(value);
        return parsed.protocol === 'https:' || LOOPBACK_HOSTS.has(parsed.hostname);
      }, 'must be https (http only for a provider on loopback, in tests)')
      .optional()
      .describe(
        "Issuer URL of the tenant's OpenID Connect provider (its discovery document is under /.well-known/openid-configuration); unset: no single sign-on.",
      ),
    SSO_CLIENT_ID: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe('Client id of the API at the provider; required with SSO_ISSUER.'),
    SSO_CLIENT_SECRET: secret(z.string().min(1))
      .optional()
      .describe(
        'Client secret at the provider (client_secret_basic); give a secret:// reference. Never logged.',
      ),
    SSO_ALLOWED_DOMAINS: list(
      z
        .string()
        .trim()
        .toLowerCase()
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a domain name'),
    )
      .optional()
      .describe('Comma-separated email domains that may sign in with SSO; unset: any domain.'),
    SSO_AUTO_PROVISION: boolean()
      .default(false)
      .describe('Make a member of an unknown (verified, allowed) address at its first SSO sign-in.'),
    SSO_DEFAULT_ROLE: z
      .enum(SSO_PROVISION_ROLES)
      .default('agent')
      .describe(`Role of a member made by SSO_AUTO_PROVISION (${SSO_PROVISION_ROLES.join(', ')}).`),
    SSO_ONLY: boolean()
      .default(false)
      .describe('Refuse password sign-in to every member but owners (their break-glass access).'),
  })
  .superRefine((value, ctx) => {
    // Runs on the whole API config (defineConfig keeps part checks), so PUBLIC_URL is there too.
    const all = value as typeof value & { PUBLIC_URL?: string };
    if (value.SSO_ISSUER === undefined) {
      if (value.SSO_ONLY)
        ctx.addIssue({
          code: 'custom',
          path: ['SSO_ONLY'],
          message: 'needs SSO_ISSUER (members could not sign in)',
        });
      return;
    }
    for (const name of ['SSO_CLIENT_ID', 'SSO_CLIENT_SECRET', 'PUBLIC_URL'] as const) {
      if (all[name] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `is required with SSO_ISSUER${name === 'PUBLIC_URL' ? ' (the redirect URI is under it)' : ''}`,
        });
    }
  });

/** The fields of the API config that SSO reads. */
export type SsoConfig = z.infer<typeof ssoConfigSchema> & { PUBLIC_URL?: string | undefined };

/** The path of the inbox page the provider redirects back to (under PUBLIC_URL). */
export const SSO_CALLBACK_PATH = '/sso/callback';

/** The settings of single sign-on from the API config, or undefined without SSO_ISSUER. */
export function ssoSettingsFromConfig(config: SsoConfig): SsoSettings | undefined {
  if (!config.SSO_ISSUER || !config.SSO_CLIENT_ID || !config.SSO_CLIENT_SECRET || !config.PUBLIC_URL)
    return undefined;
  return {
    issuer: config.SSO_ISSUER,
    clientId: config.SSO_CLIENT_ID,
    clientSecret: config.SSO_CLIENT_SECRET,
    redirectUri: new URL(SSO_CALLBACK_PATH, config.PUBLIC_URL).toString(),
    allowedDomains: config.SSO_ALLOWED_DOMAINS ?? [],
    autoProvision: config.SSO_AUTO_PROVISION,
    defaultRole: config.SSO_DEFAULT_ROLE,
    ssoOnly: config.SSO_ONLY,
  };
}

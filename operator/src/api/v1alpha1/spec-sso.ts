import { z } from 'zod';
import { DNS1123_SUBDOMAIN } from './common.ts';

/** Keys of the Secret `sso.secretRef` names. */
export const SSO_SECRET_KEYS = { clientSecret: 'clientSecret' } as const;

/** Roles a member provisioned at the first SSO sign-in may get (never owner). */
export const SSO_PROVISION_ROLES = ['admin', 'agent', 'viewer'] as const;

/** An https URL as RE2 (the API server's regex engine) and ECMAScript both read it. */
const HTTPS_URL = /^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

/** An email domain (lower case). */
const DOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/;

export const ssoSchema = z
  .strictObject({
    issuer: z
      .string()
      .max(2048)
      .regex(HTTPS_URL, 'must be an https URL without query or fragment')
      .describe(
        "Issuer URL of the tenant's OpenID Connect provider, e.g. https://login.example.com/realms/acme (its discovery document is under /.well-known/openid-configuration).",
      ),
    clientId: z
      .string()
      .min(1)
      .max(255)
      .describe('Client id of the inbox at the provider (a confidential client, code flow).'),
    secretRef: z
      .strictObject({
        name: z
          .string()
          .min(1)
          .max(253)
          .regex(DNS1123_SUBDOMAIN)
          .describe("A Secret in the tenant's namespace with the key clientSecret."),
      })
      .describe('The client secret at the provider.'),
    allowedDomains: z
      .array(z.string().max(253).regex(DOMAIN, 'must be a lower-case domain name'))
      .max(50)
      .optional()
      .describe('Email domains that may sign in with SSO, e.g. [acme.example]; unset: any domain.'),
    autoProvision: z
      .boolean()
      .default(false)
      .describe(
        'Make a member of a verified address (in allowedDomains) at its first SSO sign-in; off: only existing members sign in.',
      ),
    defaultRole: z
      .enum(SSO_PROVISION_ROLES)
      .default('agent')
      .describe('Role of a member made by autoProvision.'),
    ssoOnly: z
      .boolean()
      .default(false)
      .describe(
        'Refuse password sign-in to every member but owners, who keep their password as break-glass access when the provider fails.',
      ),
  })
  .describe(
    "Single sign-on with the tenant's OpenID Connect provider (authorization code flow with PKCE). Register https://<api.ingress.host>/sso/callback as the client's redirect URI. Needs api.ingress.",
  );

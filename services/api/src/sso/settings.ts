/** Roles a member provisioned by SSO may get: never owner (an owner is invited or made by one). */
export const SSO_PROVISION_ROLES = ['admin', 'agent', 'viewer'] as const;

/** How a tenant signs in with its OpenID Connect provider (the API's SSO_* config). */
export interface SsoSettings {
  /** The issuer identifier; its discovery document is under /.well-known/openid-configuration. */
  issuer: string;
  clientId: string;
  /** Sent to the token endpoint with client_secret_basic; never logged. */
  clientSecret: string;
  /** The inbox's callback page (PUBLIC_URL + /sso/callback), registered at the provider. */
  redirectUri: string;
  /** Lower-case email domains that may sign in; empty: any. */
  allowedDomains: readonly string[];
  /** Make a member of an unknown address at its first sign-in. */
  autoProvision: boolean;
  /** The role such a member gets. */
  defaultRole: (typeof SSO_PROVISION_ROLES)[number];
  /** Refuse password sign-in to every member but owners. */
  ssoOnly: boolean;
  /** Seconds each request to the provider may take (default 10). */
  timeoutSeconds?: number;
}

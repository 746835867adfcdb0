// Single sign-on with OpenID Connect: the settings from the config (config.ts), the provider
// through openid-client (provider.ts) and sign-in itself (sign-in.ts). routes/sso.ts is its edge.
export { SSO_CALLBACK_PATH, type SsoConfig, ssoConfigSchema, ssoSettingsFromConfig } from './config.ts';
export { SsoError, type SsoErrorCode } from './errors.ts';
export { listSsoLinks, type SsoLink, unlinkSso } from './links.ts';
export { assertPasswordSignInAllowed } from './policy.ts';
export { type AuthorizationRequest, SsoProvider, type VerifiedIdentity } from './provider.ts';
export { SSO_PROVISION_ROLES, type SsoSettings } from './settings.ts';
export {
  finishSsoSignIn,
  providerOf,
  SSO_STATE_TTL_MS,
  startSsoSignIn,
} from './sign-in.ts';

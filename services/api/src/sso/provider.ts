import * as oidc from 'openid-client';
import { SsoError } from './errors.ts';
import type { SsoSettings } from './settings.ts';

/** What an authorization request needs kept until the provider redirects back. */
export interface AuthorizationRequest {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The verified ID token's claims that sign-in uses. */
export interface VerifiedIdentity {
  issuer: string;
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
}

const ERROR_CODE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

/** An error code the provider sent (RFC 6749's charset), or a placeholder for anything else. */
function safeCode(code: unknown): string {
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : 'unknown_error';
}

/**
 * The tenant's OpenID Connect provider through openid-client: discovery (cached once it
 * succeeded; a failure is retried at the next sign-in), authorization requests with PKCE (S256),
 * state and nonce, and the code exchange, whose ID token openid-client verifies: signature by the
 * provider's JWKS, issuer, audience, expiry, and the nonce of this request.
 */
export class SsoProvider {
  readonly settings: SsoSettings;
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(settings: SsoSettings) {
    this.settings = settings;
  }

  private discover(): Promise<oidc.Configuration> {
    this.configuration ??= (async () => {
      const issuer = new URL(this.settings.issuer);
      try {
        const configuration = await oidc.discovery(
          issuer,
          this.settings.clientId,
          undefined,
          oidc.ClientSecretBasic(this.settings.clientSecret),
          {
            // The config allows http only for a provider on loopback (the tests').
            ...(issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
            timeout: this.settings.timeoutSeconds ?? 10,
          },
        );
        configuration.timeout = this.settings.timeoutSeconds ?? 10;
        return configuration;
      } catch (error) {
        this.configuration = undefined;
        throw new SsoError(
          'sso_provider_unavailable',
          `the identity provider's discovery document could not be read (${describe(error)})`,
        );
      }
    })();
    return this.configuration;
  }

  /** A new authorization request: where to send the browser, and what to keep for the callback. */
  async authorizationRequest(): Promise<AuthorizationRequest> {
    const configuration = await this.discover();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.settings.redirectUri,
      scope: 'openid email profile',
      response_type: 'code',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, state, nonce, codeVerifier };
  }

  /**
   * Exchanges the code of a callback (its query string, as the provider sent it) and verifies the
   * ID token. Throws SsoError: the provider's error answer, a refused code, or a token that fails
   * a check (each a 4xx), or an unreachable provider.
   */
  async exchange(
    query: URLSearchParams,
    expected: { state: string; nonce: string; codeVerifier: string },
  ): Promise<VerifiedIdentity> {
    const configuration = await this.discover();
    const callback = new URL(this.settings.redirectUri);
    callback.search = query.toString();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: expected.codeVerifier,
        expectedState: expected.state,
        expectedNonce: expected.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw translate(error);
    }
    const claims = tokens.claims();
    if (!claims) throw new SsoError('sso_id_token_invalid', 'the identity provider sent no ID token');
    // A provider conforming to OpenID Connect Core 5.4 keeps the email and profile claims out of
    // the ID token when it issues an access token: they are then read from its userinfo endpoint,
    // whose `sub` must be the ID token's (openid-client checks it).
    let profile: Record<string, unknown> = claims;
    if (typeof claims.email !== 'string') {
      try {
        profile = {
          ...(await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub)),
          ...claims,
        };
      } catch (error) {
        throw translate(error);
      }
    }
    return {
      issuer: claims.iss,
      subject: claims.sub,
      email: typeof profile.email === 'string' ? profile.email.toLowerCase() : undefined,
      emailVerified: profile.email_verified === true,
      name: typeof profile.name === 'string' ? profile.name : undefined,
    };
  }
}

/** A short description of an error that holds nothing secret (no code, no token). */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : error.name;
  }
  return 'unknown error';
}

const CLAIM_MESSAGES: Record<string, string> = {
  nonce: "the ID token's nonce is not this sign-in's (the authorization request was altered or replayed)",
  iss: 'the ID token was issued by another provider than the configured issuer',
  aud: 'the ID token was issued to another client',
  azp: 'the ID token was issued to another client',
};

/** openid-client's (oauth4webapi's) errors as SsoErrors; the message never holds a code or token. */
function translate(error: unknown): SsoError {
  if (error instanceof SsoError) return error;
  if (error instanceof oidc.AuthorizationResponseError) {
    return new SsoError(
      'sso_provider_refused',
      `the identity provider refused the sign-in (${safeCode(error.error)})`,
    );
  }
  if (error instanceof oidc.ResponseBodyError) {
    return new SsoError(
      'sso_code_rejected',
      `the identity provider refused the authorization code (${safeCode(error.error)}); start the sign-in again`,
    );
  }
  const code = (error as { code?: unknown }).code;
  // openid-client wraps oauth4webapi's error (its cause), whose cause holds the failed check.
  const inner = (error as { cause?: unknown }).cause;
  const check = ((inner as { cause?: unknown } | undefined)?.cause ?? inner) as
    | { claim?: unknown }
    | undefined;
  const innerMessage = inner instanceof Error ? inner.message : '';
  switch (code) {
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED': {
      const claim = typeof check?.claim === 'string' ? check.claim : '';
      return new SsoError(
        claim === 'nonce' ? 'sso_nonce_mismatch' : 'sso_id_token_invalid',
        CLAIM_MESSAGES[claim] ?? `the ID token's ${safeCode(claim)} claim is wrong`,
      );
    }
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return new SsoError('sso_id_token_invalid', 'the ID token has expired or is not valid yet');
    case 'OAUTH_INVALID_RESPONSE':
      if (innerMessage.includes('signature'))
        return new SsoError(
          'sso_id_token_invalid',
          "the ID token's signature does not verify with the provider's keys",
        );
      return new SsoError('sso_callback_invalid', `the sign-in's answer is not valid (${code})`);
    case 'OAUTH_KEY_SELECTION_FAILED':
    case 'OAUTH_UNSUPPORTED_OPERATION':
      return new SsoError(
        'sso_id_token_invalid',
        "the ID token's signature does not verify with the provider's keys",
      );
    case 'OAUTH_PARSE_ERROR':
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
    case 'OAUTH_JWT_USERINFO_EXPECTED':
    case 'OAUTH_INVALID_REQUEST':
      return new SsoError('sso_callback_invalid', `the sign-in's answer is not valid (${code})`);
    default:
      return new SsoError(
        'sso_provider_unavailable',
        `the identity provider could not be reached or answered unexpectedly (${describe(error)})`,
      );
  }
}

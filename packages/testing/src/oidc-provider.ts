// Test-only: a real OpenID Connect provider (oidc-provider, the certified Node implementation) on
// loopback, with one confidential client, accounts the test controls, and a login page of its own
// that a browser or a fetch-driven test fills in. Consent is granted at once, as a company's own
// identity provider does for its first-party apps.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

/** An account at the provider: its password on the login page and the claims it releases. */
export interface TestOidcAccount {
  password: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
}

/** Options of {@link startOidcProvider}. */
export interface TestOidcProviderOptions {
  clientId: string;
  clientSecret: string;
  /** The redirect URIs registered for the client (the inbox's /sso/callback). */
  redirectUris: string[];
  /** Accounts by subject (`sub`); the login page takes the subject as the username. Mutable. */
  accounts: Record<string, TestOidcAccount>;
  /** A port to listen on (default: a free one). */
  port?: number;
}

/** A started provider. */
export interface TestOidcProvider {
  /** `http://127.0.0.1:<port>`: the issuer identifier and the base of every endpoint. */
  issuer: string;
  /** The accounts it signs in (change one to change what the next sign-in releases). */
  accounts: Record<string, TestOidcAccount>;
  /**
   * Drives an authorization URL as a browser would, without one: follows the redirects to the
   * login page, posts `username` and `password`, and follows on until the provider redirects to
   * the client. Returns that redirect (the callback URL with code and state, or an error).
   */
  authorize(authorizationUrl: string, username: string, password: string): Promise<URL>;
  close(): Promise<void>;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function loginPage(uid: string, error?: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Test identity provider</title></head>
<body><h1>Test identity provider</h1>
<form method="post" action="/interaction/${escapeHtml(uid)}/login" aria-label="Sign in at the provider">
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Continue</button>
</form></body></html>`;
}

async function formOf(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the provider on 127.0.0.1; close() stops it. */
export async function startOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  const server: Server = createServer();
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const accounts = options.accounts;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-key' }] },
    cookies: { keys: ['test-provider-cookie-key-0123456789'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx: KoaContextWithOIDC, sub: string) {
      const account = accounts[sub];
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            ...(account.email !== undefined ? { email: account.email } : {}),
            ...(account.emailVerified !== undefined ? { email_verified: account.emailVerified } : {}),
            ...(account.name !== undefined ? { name: account.name } : {}),
          };
        },
      };
    },
    // First-party: every scope the client asks for is granted without a consent screen.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client!;
      const accountId = ctx.oidc.session!.accountId!;
      const existing = ctx.oidc.session!.grantIdFor(client.clientId);
      if (existing) return await ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      ctx.oidc.session!.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const interaction = /^\/interaction\/([-\w]+)(\/login)?$/.exec(path);
    if (!interaction) {
      callback(req, res);
      return;
    }
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid));
          return;
        }
        const form = await formOf(req);
        const username = form.get('username') ?? '';
        const account = accounts[username];
        if (!account || account.password !== form.get('password')) {
          res
            .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
            .end(loginPage(details.uid, 'Unknown username or wrong password'));
          return;
        }
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: username } },
          { mergeWithLastSubmission: false },
        );
      } catch (error) {
        res
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(`interaction failed: ${(error as Error).message}`);
      }
    })();
  });

  return {
    issuer,
    accounts,
    async authorize(authorizationUrl, username, password) {
      const cookies = new Map<string, string>();
      const send = async (url: URL, init: RequestInit = {}): Promise<Response> => {
        const res = await fetch(url, {
          ...init,
          redirect: 'manual',
          headers: {
            ...(init.headers as Record<string, string> | undefined),
            cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          },
        });
        for (const line of res.headers.getSetCookie()) {
          const [pair] = line.split(';');
          const at = pair!.indexOf('=');
          cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
        }
        return res;
      };
      let url = new URL(authorizationUrl);
      for (let hop = 0; hop < 10; hop++) {
        if (url.origin !== issuer) return url;
        let res = await send(url);
        if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
          await res.body?.cancel();
          res = await send(new URL(`${url.pathname}/login`, issuer), {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ username, password }).toString(),
          });
          if (res.status === 200) throw new Error(`the provider refused the login of ${username}`);
        }
        const location = res.headers.get('location');
        await res.body?.cancel();
        if (!location) throw new Error(`the provider answered ${res.status} at ${url.pathname}, no redirect`);
        url = new URL(location, url);
      }
      throw new Error('the provider redirected more than 10 times');
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

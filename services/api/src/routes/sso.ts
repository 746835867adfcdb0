import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams } from '../schemas.ts';
import { finishSsoSignIn, listSsoLinks, SSO_STATE_TTL_MS, startSsoSignIn, unlinkSso } from '../sso/index.ts';

/** The cookie binding a started sign-in to its browser (httpOnly, only sent to these routes). */
export const SSO_BINDING_COOKIE = 'switchboard_sso';
const COOKIE_PATH = '/v1/auth/sso';

const tokenPair = z.strictObject({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().describe('Seconds until the access token expires.'),
  refreshToken: z.string().describe('Single use: each refresh returns a new one.'),
});

/**
 * Single sign-on with the tenant's OpenID Connect provider (sso/README.md): whether it is set up,
 * the start (a redirect to the provider) and the finish (the inbox's callback page posts the
 * provider's answer here and gets the token pair login would give).
 */
export const ssoRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  // Secure when the inbox is served over https (PUBLIC_URL); plain http only on a dev machine.
  const secure = ctx.sso ? new URL(ctx.sso.settings.redirectUri).protocol === 'https:' : true;

  app.get(
    '/',
    {
      config: { public: true },
      schema: {
        summary: 'Whether single sign-on is set up, and whether password sign-in is for owners only',
        tags: ['auth'],
        security: [],
        response: {
          200: z.strictObject({
            enabled: z.boolean(),
            ssoOnly: z.boolean().describe('Password sign-in is refused to every member but owners.'),
          }),
        },
      },
    },
    async () => ({ enabled: !!ctx.sso, ssoOnly: ctx.sso?.settings.ssoOnly ?? false }),
  );

  app.get(
    '/start',
    {
      config: { public: true },
      schema: {
        summary: "Start signing in with the tenant's identity provider: a redirect to it",
        description:
          "Answers 302 to the provider's authorization endpoint (code flow, PKCE S256, state and nonce) and sets an httpOnly cookie binding the sign-in to this browser for 10 minutes. The provider sends the browser back to the inbox's /sso/callback page.",
        tags: ['auth'],
        security: [],
        response: { 302: z.null(), 404: errorBody, 502: errorBody },
      },
    },
    async (_request, reply) => {
      const started = await startSsoSignIn(ctx);
      reply.setCookie(SSO_BINDING_COOKIE, started.binding, {
        path: COOKIE_PATH,
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: SSO_STATE_TTL_MS / 1000,
      });
      reply.header('cache-control', 'no-store');
      return reply.redirect(started.url, 302);
    },
  );

  app.post(
    '/callback',
    {
      config: { public: true },
      schema: {
        summary: "Finish an SSO sign-in with the provider's answer; returns a token pair",
        description:
          "The body is the query string the provider redirected the browser to /sso/callback with (code, state, and iss, or error). The state must be one this API started for this browser (its cookie), unused and under 10 minutes old; the ID token must verify (signature by the provider's keys, issuer, audience, expiry, nonce) and carry a verified email in an allowed domain. The member is found by the provider's issuer and subject, else by that email (and linked), else provisioned when the tenant allows it. Every refusal is audited as sso.refused.",
        tags: ['auth'],
        security: [],
        body: z.strictObject({
          query: z
            .string()
            .min(1, 'must not be empty')
            .max(8192)
            .describe("The callback page's query string, as the provider sent it."),
        }),
        response: {
          200: tokenPair,
          400: errorBody,
          403: errorBody,
          404: errorBody,
          409: errorBody,
          502: errorBody,
        },
      },
    },
    async (request, reply) => {
      const binding = request.cookies[SSO_BINDING_COOKIE];
      // Spent whatever the outcome: the state it bound is gone too.
      reply.clearCookie(SSO_BINDING_COOKIE, { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure });
      reply.header('cache-control', 'no-store');
      return await finishSsoSignIn(ctx, { query: request.body.query, binding }, request);
    },
  );
};

const ssoLinkSchema = z.strictObject({
  id: z.uuid(),
  issuer: z.string().describe("The identity provider's issuer URL."),
  subject: z.string().describe("The member's account (`sub`) at that provider."),
  email: z.string().describe('The verified address the provider gave at the last sign-in.'),
  createdAt: z.iso.datetime(),
  lastSignInAt: z.iso.datetime(),
});

const memberParams = z.strictObject({ userId: z.uuid({ error: 'must be a uuid' }) });

/**
 * A member's links to identity provider accounts (registered under /v1/team/members, admins):
 * list them, and remove one (an owner's only by an owner), so a link that blocks a sign-in
 * (`sso_identity_conflict`) is undone without editing the database.
 */
export const ssoLinkRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.get(
    '/:userId/sso-identities',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: "A member's single sign-on links (provider accounts), oldest first",
        tags: ['team'],
        params: memberParams,
        response: {
          200: z.strictObject({ items: z.array(ssoLinkSchema) }),
          400: errorBody,
          401: errorBody,
          403: errorBody,
          404: errorBody,
        },
      },
    },
    async (request) => ({
      items: (await listSsoLinks(ctx, request, request.params.userId)).map((l) => ({
        ...l,
        createdAt: l.createdAt.toISOString(),
        lastSignInAt: l.lastSignInAt.toISOString(),
      })),
    }),
  );

  app.delete(
    '/:userId/sso-identities/:id',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: "Remove one of a member's single sign-on links (an owner's only by an owner)",
        description:
          "The member's next SSO sign-in links the provider account it comes with (found by its verified address), which resolves `sso_identity_conflict`. Audited as `sso.unlinked`.",
        tags: ['team'],
        params: memberParams.extend(idParams.shape),
        response: { 204: z.null(), 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (request, reply) => {
      await unlinkSso(ctx, request, request.params.userId, request.params.id);
      return reply.status(204).send(null);
    },
  );
};

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { type Db, ensureTenant } from '@switchboard/db';
import {
  DEFAULT_ALLOWED_MEDIA_TYPES,
  type MediaStorage,
  tenantKeyPrefix,
} from '@switchboard/messaging/producer';
import { DEFAULT_SCRYPT_PARAMETERS, type ScryptParameters } from '@switchboard/passwords';
import type { SealingKeyring } from '@switchboard/secrets';
import { fastifyTracing, type Logger, type MetricsRegistry } from '@switchboard/telemetry';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { CredentialCache, type CredentialCacheOptions } from './auth/credential-cache.ts';
import type { ApiContext, InviteDelivery, PasswordResetDelivery, SecurityNoticeDelivery } from './context.ts';
import { ApiError } from './errors.ts';
import { authPlugin } from './plugins/auth.ts';
import { documentedErrorsPlugin } from './plugins/documented-errors.ts';
import { answerFrameworkError, errorHandlerPlugin } from './plugins/error-handler.ts';
import { REQUEST_ID_HEADER, requestIdFor, requestIdHeaderPlugin } from './plugins/request-id.ts';
import { TenantQueues } from './queues.ts';
import { degradingRedisStore } from './rate-limit-store.ts';
import { type RealtimeOptions, realtimeHubPlugin } from './realtime/index.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { assistantRoutes, sessionAssistantRoutes } from './routes/assistant.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { authSessionRoutes } from './routes/auth-sessions.ts';
import { botConversationRoutes, botSettingsRoutes } from './routes/bot.ts';
import { businessHoursRoutes } from './routes/business-hours.ts';
import { callSettingsRoutes } from './routes/call-settings.ts';
import { campaignRoutes, contactImportRoutes } from './routes/campaigns.ts';
import { type CloudApiWebhookOptions, cloudApiWebhookRoutes } from './routes/cloud-api-webhook.ts';
import { contactRoutes } from './routes/contacts.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { groupRoutes, sessionGroupRoutes } from './routes/groups.ts';
import { healthRoutes } from './routes/health.ts';
import { historyImportRoutes } from './routes/history-import.ts';
import { inboxRoutes } from './routes/inbox.ts';
import { internalRoutes } from './routes/internal.ts';
import { labelRoutes, targetLabelRoutes } from './routes/labels.ts';
import { mediaRoutes } from './routes/media.ts';
import { messageRoutes } from './routes/messages.ts';
import { messagingLimitRoutes } from './routes/messaging-limit.ts';
import { contactOptOutRoutes, optKeywordRoutes } from './routes/opt-outs.ts';
import { profileRoutes } from './routes/profile.ts';
import { readReceiptRoutes } from './routes/read-receipts.ts';
import { realtimeRoutes } from './routes/realtime.ts';
import { scheduledMessageRoutes } from './routes/scheduled-messages.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { ssoLinkRoutes, ssoRoutes } from './routes/sso.ts';
import { teamRoutes } from './routes/team.ts';
import { quickReplyRoutes, templateRoutes } from './routes/templates.ts';
import { tenantSecurityRoutes } from './routes/tenant-security.ts';
import { twoFactorRoutes } from './routes/two-factor.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { SearchLane } from './search-lane.ts';
import { SsoProvider, type SsoSettings } from './sso/index.ts';
import { webhookDocuments } from './webhook-docs.ts';

/** What buildApp needs: its connections and settings, never the environment. */
export interface BuildAppOptions {
  db: Db;
  /** A `producer`-role connection (fails fast: a request answers 503 rather than hang). */
  redis: Redis;
  /** The configured tenant (SWITCHBOARD_TENANT) and its display name; its row is ensured at start. */
  tenant: { slug: string; displayName: string };
  jwtSigningKey: string;
  accessTokenTtlMs?: number;
  /** The auth plugin's credential cache: its TTL (default 10 s) and clock (tests move it). */
  credentialCache?: Pick<CredentialCacheOptions, 'ttlMs' | 'now'>;
  refreshTokenTtlMs?: number;
  passwordResetTtlMs?: number;
  corsOrigins?: readonly string[];
  rateLimitPerMinute?: number;
  loginMaxFailures?: number;
  loginLockoutMs?: number;
  /** Largest request body, bytes (default 1 MiB). */
  bodyLimit?: number;
  scrypt?: ScryptParameters;
  /** Delivers password reset tokens (server.ts: the Mailer); default drops them. */
  onPasswordReset?: (delivery: PasswordResetDelivery) => Promise<void> | void;
  /** Delivers team invites (server.ts: the Mailer); must return at once. Default drops them. */
  onInvite?: (delivery: InviteDelivery) => void;
  /** Delivers security notices (server.ts: the Mailer); must return at once. Default drops them. */
  onSecurityNotice?: (delivery: SecurityNoticeDelivery) => void;
  /**
   * The Cloud API webhook's secrets: CLOUD_API_APP_SECRET / CLOUD_API_VERIFY_TOKEN as the fallback
   * and each declared number's own (sessions.json); the route exists only when some are set.
   */
  cloudApi?: CloudApiWebhookOptions;
  /**
   * Proxies whose X-Forwarded-For is believed (default 1: the ingress). 0 uses the socket's peer;
   * `true` would let any client pick the IP its per-IP limits are counted under.
   */
  trustProxyHops?: number;
  /** Where uploaded media is stored and read from; the media routes exist only when set. */
  mediaStorage?: MediaStorage;
  /** Largest media upload, bytes (default 16 MiB, WhatsApp's limit for video and audio). */
  mediaMaxBytes?: number;
  /** Types a media upload may have (default DEFAULT_ALLOWED_MEDIA_TYPES). */
  mediaAllowedTypes?: readonly string[];
  /**
   * The built inbox to serve at `/` (INBOX_DIR). Default: services/inbox/dist beside this source
   * when that directory exists; null serves no inbox.
   */
  inboxDir?: string | null;
  /**
   * WEBHOOK_ALLOWED_HOSTS: webhook receiver hosts (names or addresses) allowed although they are
   * or resolve to internal addresses; every other receiver must resolve to public addresses only.
   */
  webhookAllowedHosts?: readonly string[];
  /** INTERNAL_TOKEN: enables /internal/status for the operator (a bearer token only; it seals nothing). */
  internalToken?: string;
  /** SEALING_KEYS: seals webhook subscription secrets; creating subscriptions is refused without it. */
  sealingKeys?: SealingKeyring;
  /** The clock two-factor codes are checked against (ms; tests inject one). Default Date.now. */
  twoFactorClock?: () => number;
  /** REALTIME_*: streams per credential, re-check interval, bytes buffered per stream. */
  realtime?: RealtimeOptions;
  /** DATABASE_SEARCH_CONCURRENCY and DATABASE_POOL_TIMEOUT: searches at once (default 5), and their wait for a turn (default 2 s). */
  search?: { concurrency?: number; waitMs?: number };
  logger?: Logger;
  metrics?: MetricsRegistry;
  /** SSO_*: single sign-on with the tenant's OpenID Connect provider; off when unset. */
  sso?: SsoSettings | undefined;
  /** Called with every error answered 500 (server.ts reports it to Sentry), after it is logged. */
  onServerError?: (error: unknown, request: { id: string; method: string; route: string }) => void;
}

/** The inbox's build output in this checkout (services/inbox/dist), when it has been built. */
function defaultInboxDir(): string | null {
  const dir = fileURLToPath(new URL('../../inbox/dist', import.meta.url));
  return existsSync(dir) ? dir : null;
}

/** The document with every 204 answer described without content (zod's null is not a body). */
function withoutNoContentBodies<T>(document: T): T {
  const paths = (document as { paths?: Record<string, Record<string, unknown>> }).paths ?? {};
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const responses = (operation as { responses?: Record<string, { content?: unknown }> }).responses;
      if (responses?.['204']) delete responses['204'].content;
    }
  }
  return document;
}

/** Default largest media upload: 16 MiB, WhatsApp's limit for video and audio. */
export const DEFAULT_MEDIA_MAX_BYTES = 16 * 1024 * 1024;

/** Builds the API (not listening): tests call it and use `inject`, server.ts listens. */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const trustedHops = options.trustProxyHops ?? 1;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // proxy-addr walks X-Forwarded-For from the socket's peer backwards: trust that many hops.
    trustProxy: (_address: string, hop: number) => hop < trustedHops,
    // Long ids and queries are bounded here, before any parsing.
    maxParamLength: 200,
    // The Ingress's X-Request-Id when valid, else a new id; logged as request_id, as the worker does.
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    // A URL the router refuses (undecodable, a parameter too long): the catalogue's answer.
    frameworkErrors: answerFrameworkError,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const ctx: ApiContext = {
    db: options.db,
    redis: options.redis,
    defaultTenant: options.tenant.slug,
    jwtKey: new TextEncoder().encode(options.jwtSigningKey),
    accessTokenTtlMs: options.accessTokenTtlMs ?? 900_000,
    credentialCache: new CredentialCache({ ...options.credentialCache, redis: options.redis }),
    refreshTokenTtlMs: options.refreshTokenTtlMs ?? 30 * 86_400_000,
    passwordResetTtlMs: options.passwordResetTtlMs ?? 3_600_000,
    loginMaxFailures: options.loginMaxFailures ?? 5,
    loginLockoutMs: options.loginLockoutMs ?? 900_000,
    scrypt: options.scrypt ?? DEFAULT_SCRYPT_PARAMETERS,
    onPasswordReset: options.onPasswordReset ?? (() => {}),
    onInvite: options.onInvite ?? (() => {}),
    onSecurityNotice: options.onSecurityNotice ?? (() => {}),
    queues: new TenantQueues(options.redis),
    mediaStorage: options.mediaStorage,
    webhookAllowedHosts: new Set((options.webhookAllowedHosts ?? []).map((h) => h.toLowerCase())),
    searchLane: new SearchLane({
      size: options.search?.concurrency ?? 5,
      waitMs: options.search?.waitMs ?? 2_000,
    }),
    sso: options.sso ? new SsoProvider(options.sso) : undefined,
  };
  app.decorate('sb', ctx);
  // The queues routes opened; the Redis connection itself belongs to the caller.
  app.addHook('onClose', async () => {
    await ctx.queues.close();
  });
  // Every route as registered, for the route-walking tests and the OpenAPI check.
  const routeList: { method: string; url: string; public: boolean }[] = [];
  app.decorate('routeList', routeList);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      routeList.push({
        method,
        url: route.url,
        public: route.url.startsWith('/docs') || !!(route.config as { public?: boolean } | undefined)?.public,
      });
    }
  });
  await ensureTenant(options.db, options.tenant);
  if (options.metrics) {
    // Labelled by the route pattern, never the raw URL (ids would make one series per message).
    const duration = options.metrics.histogram({
      name: 'switchboard_api_http_request_duration_seconds',
      help: 'HTTP requests served by the API, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    app.addHook('onResponse', async (request, reply) => {
      duration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
  }

  // Every answer names its request in X-Request-Id, errors and 404s included.
  await app.register(requestIdHeaderPlugin);
  // A span per request under the http server span (no-op until tracing is started).
  await app.register(fastifyTracing());
  await app.register(errorHandlerPlugin, {
    ...(options.onServerError ? { onServerError: options.onServerError } : {}),
  });
  await app.register(documentedErrorsPlugin);

  await app.register(helmet, {
    // The docs UI needs inline scripts and styles; everything else is JSON.
    contentSecurityPolicy: {
      directives: { 'script-src': ["'self'", "'unsafe-inline'"], 'style-src': ["'self'", "'unsafe-inline'"] },
    },
  });
  await app.register(cors, {
    origin: [...(options.corsOrigins ?? [])],
    credentials: true,
    // Browsers show a cross-origin page the request id only when it is exposed.
    exposedHeaders: [REQUEST_ID_HEADER],
  });
  await app.register(cookie);
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? 600,
    timeWindow: 60_000,
    // Counters in Redis that degrade open: an outage lets requests through (logged, counted)
    // instead of answering 500. The health routes are not limited at all (config.rateLimit false).
    store: degradingRedisStore({
      redis: options.redis,
      nameSpace: `${tenantKeyPrefix(options.tenant.slug)}api:ratelimit:`,
      logger: options.logger,
      metrics: options.metrics,
    }),
    // After authentication (preValidation runs the auth plugin's hook first), so a bucket is a
    // verified principal: a member or an API key. Public routes count per client IP, and so do
    // refused credentials (onAuthFailure below): a random header is never a fresh bucket.
    hook: 'preValidation',
    keyGenerator: (request) => {
      const p = request.principal;
      if (!p) return `ip:${request.ip}`;
      return p.kind === 'user' ? `user:${p.tenantId}:${p.userId}` : `key:${p.tenantId}:${p.apiKeyId}`;
    },
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: {
        code: 'rate_limited',
        message: `rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`,
      },
    }),
  });
  await app.register(swagger, {
    openapi: {
      // 3.1: the `webhooks` section documents every event delivered to subscriptions.
      openapi: '3.1.0',
      webhooks: webhookDocuments(),
      info: { title: 'Switchboard tenant API', version: '1.0.0' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (document) =>
      'openapiObject' in document ? withoutNoContentBodies(document.openapiObject) : document.swaggerObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // A refused credential counts against the client's IP (no principal yet: the key generator
  // above answers `ip:`), so junk tokens are limited like any unauthenticated request.
  const limitFailedAuth = app.createRateLimit();
  await app.register(authPlugin, {
    db: options.db,
    jwtSigningKey: options.jwtSigningKey,
    accessTokenTtlMs: ctx.accessTokenTtlMs,
    credentialCache: ctx.credentialCache,
    onAuthFailure: async (request) => {
      const limit = await limitFailedAuth(request);
      if (!limit.isAllowed && limit.isExceeded) {
        throw new ApiError(
          'rate_limited',
          `rate limit of ${limit.max} requests per minute exceeded; retry in ${limit.ttlInSeconds} seconds`,
          { retryAfterSeconds: Math.max(limit.ttlInSeconds, 1) },
        );
      }
    },
  });

  // Before the routes: its onResponse hook (identity changes re-check open streams) must see them.
  await app.register(realtimeHubPlugin, { ...options.realtime, metrics: options.metrics });
  await app.register(healthRoutes);
  await app.register(authRoutes, { prefix: '/v1/auth' });
  await app.register(authSessionRoutes, { prefix: '/v1' });
  await app.register(profileRoutes, { prefix: '/v1/auth' });
  await app.register(twoFactorRoutes, {
    prefix: '/v1/auth/two-factor',
    ...(options.sealingKeys ? { sealingKeys: options.sealingKeys } : {}),
    ...(options.twoFactorClock ? { now: options.twoFactorClock } : {}),
  });
  await app.register(tenantSecurityRoutes, { prefix: '/v1/tenant/security' });
  await app.register(ssoRoutes, { prefix: '/v1/auth/sso' });
  await app.register(ssoLinkRoutes, { prefix: '/v1/team/members' });
  await app.register(apiKeyRoutes, { prefix: '/v1/api-keys' });
  await app.register(teamRoutes, { prefix: '/v1/team' });
  await app.register(sessionRoutes, { prefix: '/v1/sessions' });
  await app.register(conversationRoutes, { prefix: '/v1/conversations' });
  await app.register(messageRoutes, { prefix: '/v1/messages' });
  if (options.mediaStorage)
    await app.register(mediaRoutes, {
      prefix: '/v1/messages',
      storage: options.mediaStorage,
      maxBytes: options.mediaMaxBytes ?? DEFAULT_MEDIA_MAX_BYTES,
      allowedTypes: options.mediaAllowedTypes ?? DEFAULT_ALLOWED_MEDIA_TYPES,
    });
  await app.register(scheduledMessageRoutes, { prefix: '/v1/scheduled-messages' });
  await app.register(contactRoutes, { prefix: '/v1/contacts' });
  await app.register(templateRoutes, { prefix: '/v1/templates' });
  await app.register(quickReplyRoutes, { prefix: '/v1/quick-replies' });
  await app.register(auditRoutes, { prefix: '/v1/audit-log' });
  await app.register(realtimeRoutes, { prefix: '/v1/realtime' });
  await app.register(businessHoursRoutes, { prefix: '/v1/settings/business-hours' });
  await app.register(readReceiptRoutes, { prefix: '/v1/settings/read-receipts' });
  await app.register(labelRoutes, { prefix: '/v1/labels' });
  await app.register(targetLabelRoutes('conversation'), { prefix: '/v1/conversations' });
  await app.register(targetLabelRoutes('contact'), { prefix: '/v1/contacts' });
  await app.register(campaignRoutes, { prefix: '/v1/campaigns' });
  await app.register(contactImportRoutes, { prefix: '/v1/contact-imports' });
  await app.register(optKeywordRoutes('out'), { prefix: '/v1/settings/opt-out-keywords' });
  await app.register(optKeywordRoutes('in'), { prefix: '/v1/settings/opt-in-keywords' });
  await app.register(contactOptOutRoutes, { prefix: '/v1/contacts' });
  await app.register(callSettingsRoutes, { prefix: '/v1/sessions' });
  await app.register(historyImportRoutes, { prefix: '/v1/sessions' });
  await app.register(messagingLimitRoutes, { prefix: '/v1/sessions' });
  await app.register(sessionGroupRoutes, { prefix: '/v1/sessions' });
  await app.register(groupRoutes, { prefix: '/v1/groups' });
  await app.register(sessionAssistantRoutes, { prefix: '/v1/sessions' });
  await app.register(assistantRoutes, { prefix: '/v1/assistant' });
  await app.register(botSettingsRoutes, {
    prefix: '/v1/sessions',
    ...(options.sealingKeys ? { sealingKeys: options.sealingKeys } : {}),
  });
  await app.register(botConversationRoutes, { prefix: '/v1/conversations' });
  await app.register(webhookRoutes, {
    prefix: '/v1/webhooks',
    ...(options.sealingKeys ? { sealingKeys: options.sealingKeys } : {}),
  });
  if (options.internalToken)
    await app.register(internalRoutes, { prefix: '/internal', token: options.internalToken });
  const cloudApi = options.cloudApi;
  const declaredNumbers = cloudApi?.numbers?.size ?? 0;
  if (
    cloudApi &&
    (cloudApi.appSecret || declaredNumbers > 0) &&
    (cloudApi.verifyToken || declaredNumbers > 0)
  )
    await app.register(cloudApiWebhookRoutes, { prefix: '/webhooks/cloud-api', ...cloudApi });
  const inboxDir = options.inboxDir === undefined ? defaultInboxDir() : options.inboxDir;
  if (inboxDir) await app.register(inboxRoutes, { root: inboxDir });
  await app.ready();
  return app as unknown as FastifyInstance;
}

// The API process: reads the environment once, starts telemetry, builds the app and listens; on
// SIGTERM it stops accepting, lets in-flight requests finish (Fastify's close), then exits.
// Nothing else in the API reads process.env.
import { captureError, instrumentModules } from '@switchboard/telemetry';
import type { buildApp as BuildApp } from './app.ts';

// The libraries' OpenTelemetry instrumentations patch modules as they are imported, so they are
// enabled before anything imports Fastify, ioredis, pg or Prisma: everything else is imported
// dynamically below (static imports would all load before this line runs).
await instrumentModules();
const { databasePoolSettings, loadConfigFromProcess, readDeclaredSessions, resolveCloudApiCredentials } =
  await import('@switchboard/config');
const { createDb, verifyRuntimeRole } = await import('@switchboard/db');
const { mediaStorageFromSettings } = await import('@switchboard/messaging/producer');
const { createRedis, redisConnectionFromSettings } = await import('@switchboard/redis');
const { createSecretResolver, SealingKeyring } = await import('@switchboard/secrets');
const { HealthServer, startTelemetry } = await import('@switchboard/telemetry');
const { buildApp } = await import('./app.ts');
const { apiConfigSchema } = await import('./config.ts');
const { mailerFromConfig } = await import('./mail/index.ts');
const { ssoSettingsFromConfig } = await import('./sso/index.ts');

const config = await loadConfigFromProcess(apiConfigSchema);
const telemetry = startTelemetry(config, { defaultLabels: { tenant: config.SWITCHBOARD_TENANT } });
const { logger } = telemetry;
// A promise nobody awaited that failed: logged, and the process keeps serving (Node's default
// would exit). Sentry's own handlers (on with a DSN) report it, and uncaught exceptions.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled promise rejection');
});
// DATABASE_POOL_SIZE, DATABASE_POOL_TIMEOUT, DATABASE_STATEMENT_TIMEOUT, DATABASE_SEARCH_CONCURRENCY.
const { searchConcurrency, ...pool } = databasePoolSettings(config);
const db = createDb({ databaseUrl: config.DATABASE_URL, applicationName: 'switchboard-api', ...pool });
const redis = createRedis({
  ...redisConnectionFromSettings(config),
  role: 'producer',
  connectionName: 'switchboard-api',
});
// Without a listener, ioredis reports every connection error as an unhandled 'error' event;
// reconnection is ioredis's own, the readiness probe reports the outage.
redis.on('error', (error: Error) => logger.warn({ err: error }, 'redis connection error'));

const mediaStorage = mediaStorageFromSettings(config, { tenant: config.SWITCHBOARD_TENANT });
let app: Awaited<ReturnType<typeof BuildApp>>;
let mailer: Awaited<ReturnType<typeof mailerFromConfig>>;
// /metrics on its own port, which the ServiceMonitor scrapes and the Ingress never routes to.
const metricsServer = new HealthServer({
  host: config.METRICS_HOST,
  port: config.METRICS_PORT,
  metrics: telemetry.metrics,
  livenessChecks: {},
  readinessChecks: {
    database: async () => {
      await db.$queryRaw`SELECT 1`;
    },
    redis: async () => {
      await redis.ping();
    },
  },
});
try {
  await verifyRuntimeRole(db);
  // Each declared Cloud API number's app secret and verify token, resolved once at start (a
  // rotated secret takes a restart, as for every other secret the API reads).
  const numbers = new Map<string, { appSecret: string; verifyToken: string }>();
  if (config.SWITCHBOARD_SESSIONS_FILE) {
    const resolver = createSecretResolver({ env: process.env });
    try {
      const declared = await readDeclaredSessions(config.SWITCHBOARD_SESSIONS_FILE);
      for (const number of await resolveCloudApiCredentials(declared, resolver))
        numbers.set(number.phoneNumberId, { appSecret: number.appSecret, verifyToken: number.verifyToken });
    } finally {
      await resolver.close();
    }
  }
  // SMTP_HOST set: reset, invite and security notice mails go out in the background (a failed send is logged and
  // counted, never seen by the client). Unset: a reset request is only logged.
  const tenantName = config.SWITCHBOARD_DISPLAY_NAME ?? config.SWITCHBOARD_TENANT;
  mailer = await mailerFromConfig(config, tenantName, { logger, metrics: telemetry.metrics });
  const mail = mailer;
  app = await buildApp({
    db,
    redis: redis as never,
    tenant: {
      slug: config.SWITCHBOARD_TENANT,
      displayName: config.SWITCHBOARD_DISPLAY_NAME ?? config.SWITCHBOARD_TENANT,
    },
    jwtSigningKey: config.JWT_SIGNING_KEY,
    accessTokenTtlMs: config.ACCESS_TOKEN_TTL,
    refreshTokenTtlMs: config.REFRESH_TOKEN_TTL,
    corsOrigins: config.CORS_ORIGINS,
    webhookAllowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
    // SSO_ISSUER set: single sign-on with the tenant's OpenID Connect provider (sso/README.md).
    sso: ssoSettingsFromConfig(config),
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    loginMaxFailures: config.LOGIN_MAX_FAILURES,
    loginLockoutMs: config.LOGIN_LOCKOUT,
    search: { concurrency: searchConcurrency, waitMs: pool.poolTimeoutMs },
    realtime: {
      maxStreamsPerPrincipal: config.REALTIME_MAX_STREAMS_PER_PRINCIPAL,
      recheckIntervalMs: config.REALTIME_RECHECK_INTERVAL,
      maxBufferedBytes: config.REALTIME_MAX_BUFFERED_BYTES,
    },
    cloudApi: {
      appSecret: config.CLOUD_API_APP_SECRET,
      verifyToken: config.CLOUD_API_VERIFY_TOKEN,
      numbers,
    },
    // The store the workers download into (a shared directory or S3); none turns media off.
    ...(mediaStorage ? { mediaStorage } : {}),
    trustProxyHops: config.TRUST_PROXY_HOPS,
    mediaMaxBytes: config.MEDIA_MAX_BYTES,
    ...(config.INBOX_DIR ? { inboxDir: config.INBOX_DIR } : {}),
    ...(config.INTERNAL_TOKEN ? { internalToken: config.INTERNAL_TOKEN } : {}),
    ...(config.SEALING_KEYS ? { sealingKeys: SealingKeyring.parse(config.SEALING_KEYS) } : {}),
    logger,
    metrics: telemetry.metrics,
    // 5xx answers to Sentry (scrubbed; the request id, never the body).
    onServerError: (error, request) =>
      captureError(error, { requestId: request.id, method: request.method, route: request.route }),
    onPasswordReset: (delivery) => {
      if (mail) mail.passwordReset(delivery);
      // The token is never logged.
      else
        logger.warn(
          { tenant: delivery.tenantSlug },
          'password reset requested but no delivery is configured',
        );
    },
    onInvite: (delivery) => {
      if (mail) mail.invite(delivery);
      else logger.info('member invited; no mail is configured (the inviter passes the link on)');
    },
    onSecurityNotice: (delivery) => {
      if (mail) mail.securityNotice(delivery);
      else logger.info({ kind: delivery.kind }, 'security notice not mailed: no mail is configured');
    },
  });
  await app.listen({ port: config.PORT, host: config.HOST });
  await metricsServer.listen();
} catch (error) {
  logger.fatal({ err: error }, 'api failed to start');
  await telemetry.shutdown();
  process.exit(1);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'stopping: draining requests');
    void app
      .close()
      .then(async () => {
        await mailer?.close();
        await metricsServer.close();
        await db.$disconnect();
        redis.disconnect();
        await telemetry.shutdown();
        process.exit(0);
      })
      .catch(async (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        await telemetry.shutdown();
        process.exit(1);
      });
  });
}

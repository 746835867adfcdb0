// The API process: reads the environment once, starts telemetry, builds the app and listens; on
// SIGTERM it stops accepting, lets in-flight requests finish (Fastify's close), then exits.
// Nothing else in the API reads process.env.
import { loadConfigFromProcess } from '@switchboard/config';
import { createDb, verifyRuntimeRole } from '@switchboard/db';
import { createRedis, redisConnectionFromSettings } from '@switchboard/redis';
import { startTelemetry } from '@switchboard/telemetry';
import { buildApp } from './app.ts';
import { apiConfigSchema } from './config.ts';

const config = await loadConfigFromProcess(apiConfigSchema);
const telemetry = startTelemetry(config, { defaultLabels: { tenant: config.SWITCHBOARD_TENANT } });
const { logger } = telemetry;
const db = createDb({ databaseUrl: config.DATABASE_URL, applicationName: 'switchboard-api' });
const redis = createRedis({
  ...redisConnectionFromSettings(config),
  role: 'producer',
  connectionName: 'switchboard-api',
});

let app: Awaited<ReturnType<typeof buildApp>>;
try {
  await verifyRuntimeRole(db);
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
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    loginMaxFailures: config.LOGIN_MAX_FAILURES,
    loginLockoutMs: config.LOGIN_LOCKOUT,
    ...(config.CLOUD_API_APP_SECRET && config.CLOUD_API_VERIFY_TOKEN
      ? { cloudApi: { appSecret: config.CLOUD_API_APP_SECRET, verifyToken: config.CLOUD_API_VERIFY_TOKEN } }
      : {}),
    ...(config.INTERNAL_TOKEN ? { internalToken: config.INTERNAL_TOKEN } : {}),
    logger,
    metrics: telemetry.metrics,
    onPasswordReset: ({ tenantSlug }) => {
      // Email delivery is out of scope: the hook is where it plugs in. The token is never logged.
      logger.warn({ tenant: tenantSlug }, 'password reset requested but no delivery is configured');
    },
  });
  await app.listen({ port: config.PORT, host: config.HOST });
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

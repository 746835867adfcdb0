import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CloudApiEmulator,
  createCloudApiEmulator,
  type StatusMode,
} from '@switchboard/cloud-api-emulator';
import {
  createDb,
  dropTenantDatabase,
  ensureTenant,
  migrate,
  provisionTenantDatabase,
  withTenant,
} from '@switchboard/db';
import { tenantKeyPrefix } from '@switchboard/messaging';
import { hashPassword } from '@switchboard/passwords';
import { redisAclRules } from '@switchboard/redis/acl';
import { newSealingKeyEntry } from '@switchboard/secrets';
import {
  deleteKeysWithPrefix,
  freePort,
  postgresUrl,
  type ServiceProcess,
  startPostgres,
  startProcess,
  startRedis,
} from '@switchboard/testing/servers';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { STACK_SECRET_STORES, type StackSecretStore, startSecretStore } from './secret-stores.ts';

/**
 * The whole platform on one machine with no cluster: per tenant a migrated database of its own
 * (provisioned exactly as the operator provisions one), an API process serving the inbox, a
 * worker process, and Meta's Cloud API played by the emulator, wired as the tenant's declared
 * Cloud API session. `make demo` runs it for a person; the inbox's browser tests and benchmarks
 * run it for a program. The processes are the real `server.ts` entry points with the
 * environment the operator would give them, so what works here works in the chart.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const API_SERVER = join(ROOT, 'services/api/src/server.ts');
const WORKER_SERVER = join(ROOT, 'services/worker/src/server.ts');
/** Where `npm run build -w @switchboard/inbox` writes the SPA. */
export const DEFAULT_INBOX_DIR = join(ROOT, 'services/inbox/dist');

const slugSchema = z
  .string()
  .regex(/^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$/, 'must be a DNS-1123 label of at most 32 characters');
const digits = z.string().regex(/^\d{5,20}$/, 'must be digits');

/** One tenant of the stack. */
export const stackTenantSchema = z.strictObject({
  slug: slugSchema,
  displayName: z.string().min(1).optional(),
  /** The seeded owner who logs in to the inbox. */
  admin: z.strictObject({
    email: z.email(),
    password: z.string().min(8, 'must be at least 8 characters'),
    displayName: z.string().min(1).optional(),
  }),
  /** The tenant's Cloud API number, played by its own emulator (a Meta app per tenant, as in production). */
  cloudApi: z
    .strictObject({
      phoneNumberId: digits.default('106540352242922'),
      displayPhoneNumber: digits.default('15551230000'),
      verifiedName: z.string().min(1).optional(),
      /** The declared session's name. */
      sessionName: slugSchema.default('whatsapp'),
    })
    .optional(),
  /** Start the tenant's worker (default true). Without it, tests can hold sessions themselves. */
  worker: z.boolean().default(true),
});
export type StackTenantOptions = z.input<typeof stackTenantSchema>;

/** Options of {@link startStack}. */
export const stackOptionsSchema = z.strictObject({
  tenants: z
    .array(stackTenantSchema)
    .min(1, 'at least one tenant')
    .refine(
      (tenants) => new Set(tenants.map((t) => t.slug)).size === tenants.length,
      'tenant slugs must be unique',
    ),
  /** The built inbox the APIs serve; the default build output when it exists, none otherwise. */
  inboxDir: z.string().min(1).optional(),
  /** A Postgres superuser URL to provision databases on; a server of the stack's own otherwise. */
  postgresAdminUrl: z.url().optional(),
  /**
   * A Redis to use; a server of the stack's own otherwise. Tenants are apart by key prefix
   * (`sb:<slug>:`), so slugs must be unique among everything using that Redis; the stack deletes
   * its tenants' keys when it stops.
   */
  redis: z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65_535) }).optional(),
  /** Fixed API ports, in tenant order (`make demo` uses 8080); free ports otherwise. */
  apiPorts: z.array(z.number().int().min(1).max(65_535)).optional(),
  /** How the emulator reports statuses of business sends (default: sent, delivered, read within a second). */
  statuses: z.custom<StatusMode>().optional(),
  /** Called with every log line of the API and worker processes (default: kept, shown when one dies). */
  onLog: z.custom<(source: string, line: string) => void>().optional(),
  /**
   * Where the tenants' Cloud API credentials live, as `spec.secrets.provider` chooses: `env`
   * (worker variables, the default), `vault` (a Vault dev server the stack starts) or `aws`
   * (moto's Secrets Manager). The API and worker then resolve them from there themselves.
   */
  secrets: z.enum(STACK_SECRET_STORES).default('env'),
  /** More variables for every API and worker process (an OTLP endpoint, a Sentry DSN, in tests). */
  processEnv: z.record(z.string(), z.string()).optional(),
});
export type StackOptions = z.input<typeof stackOptionsSchema>;

/** One started tenant. */
export interface StackTenant {
  slug: string;
  tenantId: string;
  /** `http://127.0.0.1:<port>`: the API, the inbox at `/`. */
  apiUrl: string;
  admin: { email: string; password: string };
  /** Connection strings of the tenant's database: as the application role and as the owner. */
  databaseUrl: string;
  ownerDatabaseUrl: string;
  /** The Redis key prefix of the tenant (`sb:<slug>:`). */
  keyPrefix: string;
  /** The tenant's Cloud API number and its emulator; absent when the tenant has none. */
  cloudApi?: {
    phoneNumberId: string;
    displayPhoneNumber: string;
    sessionName: string;
    emulator: CloudApiEmulator;
  };
  /** The API's metrics port (/metrics, /livez, /readyz), apart from its public one. */
  apiMetricsPort: number;
  /** The worker's probe port (/livez, /readyz, /metrics); absent without a worker. */
  workerMetricsPort?: number;
  /** The API's bearer token for /internal. */
  internalToken: string;
  /** SEALING_KEYS of the API and worker (webhook secrets sealed in the database). */
  sealingKeys: string;
  /** The ACL users the API and worker connect to Redis as (the operator's roles). */
  redisUsers: { api: RoleUser; worker: RoleUser };
}

/** A running stack. */
export interface Stack {
  tenants: StackTenant[];
  /** The first tenant's emulator, for the common one-tenant case. */
  emulator?: CloudApiEmulator;
  redis: { host: string; port: number };
  /** The Vault or moto the credentials are kept in, with `secrets: 'vault' | 'aws'`. */
  secretStore?: StackSecretStore;
  /** Stops every process and server the stack started and drops its databases. Idempotent. */
  stop(): Promise<void>;
}

/** A process of the stack that exited before it was asked to, with its last lines. */
export class StackProcessError extends Error {
  constructor(name: string, code: number | null, output: string) {
    super(`${name} exited with ${code} while starting:\n${output}`);
    this.name = 'StackProcessError';
  }
}

const DEFAULT_EMULATOR_STATUSES: StatusMode = {
  mode: 'auto',
  delaysMs: { sent: 100, delivered: 400, read: 1200 },
};

async function waitUntilReady(service: ServiceProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null)
      throw new StackProcessError(service.name, service.child.exitCode, service.output());
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${service.name} was not ready at ${url} within ${timeoutMs} ms:\n${service.output()}`);
}

function forwardLines(
  service: ServiceProcess,
  onLog: ((source: string, line: string) => void) | undefined,
): void {
  if (!onLog) return;
  for (const stream of [service.child.stdout, service.child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line) onLog(service.name, line);
    });
  }
}

/** A Redis ACL user of one tenant's API or worker. */
export interface RoleUser {
  username: string;
  password: string;
}

/**
 * Creates the tenant's `api` and `worker` ACL users on the stack's Redis (connected to as its
 * default user, the administrator of a test or local Redis), with the rules the operator gives a
 * tenant's Redis (packages/redis's acl.ts), so the demo and the browser tests run the services
 * with ACLs on, as in a cluster. Names carry the run, so stacks sharing a Redis do not collide.
 */
async function createRoleUsers(
  redis: { host: string; port: number },
  slug: string,
  run: string,
): Promise<{ api: RoleUser; worker: RoleUser; remove(): Promise<void> }> {
  const users = {
    api: { username: `api-${slug}-${run}`, password: randomBytes(18).toString('base64url') },
    worker: { username: `worker-${slug}-${run}`, password: randomBytes(18).toString('base64url') },
  };
  const withClient = async (fn: (client: Redis) => Promise<unknown>) => {
    const client = new Redis({ ...redis, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      await fn(client);
    } finally {
      client.disconnect();
    }
  };
  await withClient(async (client) => {
    for (const role of ['api', 'worker'] as const) {
      const { username, password } = users[role];
      const rules = redisAclRules(role, { keyPrefix: tenantKeyPrefix(slug) });
      await client.call('ACL', 'SETUSER', username, 'reset', 'on', `>${password}`, ...rules);
    }
  });
  return {
    ...users,
    remove: () =>
      withClient((client) => client.call('ACL', 'DELUSER', users.api.username, users.worker.username)),
  };
}

/** Removes every key under the prefixes (a shared Redis after the stack's processes stopped). */
async function deleteKeys(redis: { host: string; port: number }, prefixes: string[]): Promise<void> {
  const client = new Redis({
    host: redis.host,
    port: redis.port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  try {
    await client.connect();
    for (const prefix of prefixes) await deleteKeysWithPrefix(client, prefix);
  } finally {
    client.disconnect();
  }
}

/** Seeds the tenant's owner (idempotent: a second start keeps the user and resets nothing else). */
async function seedOwner(
  databaseUrl: string,
  tenantId: string,
  admin: { email: string; password: string; displayName?: string | undefined },
): Promise<void> {
  const db = createDb({ databaseUrl, applicationName: 'switchboard-devstack', maxConnections: 1 });
  try {
    const passwordHash = await hashPassword(admin.password);
    await withTenant(db, tenantId, async (tx) => {
      const email = admin.email.toLowerCase();
      const user = await tx.user.upsert({
        where: { tenantId_email: { tenantId, email } },
        create: { tenantId, email, displayName: admin.displayName ?? email.split('@')[0]!, passwordHash },
        update: { passwordHash, disabledAt: null },
      });
      await tx.membership.upsert({
        where: { tenantId_userId: { tenantId, userId: user.id } },
        create: { tenantId, userId: user.id, role: 'owner' },
        update: { role: 'owner' },
      });
    });
  } finally {
    await db.$disconnect();
  }
}

/** Starts the stack; on any failure, stops what it had started and rethrows. */
export async function startStack(input: StackOptions): Promise<Stack> {
  const options = stackOptionsSchema.parse(input);
  const cleanups: (() => Promise<void>)[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'switchboard-stack-'));
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));

    let adminUrl = options.postgresAdminUrl;
    if (!adminUrl) {
      const postgres = await startPostgres();
      cleanups.push(() => postgres.stop());
      adminUrl = postgresUrl(postgres, postgres.user, postgres.password, 'postgres');
    }
    let redis = options.redis;
    if (redis) {
      const shared = redis;
      const prefixes = options.tenants.map((t) => tenantKeyPrefix(t.slug));
      cleanups.push(() => deleteKeys(shared, prefixes));
    } else {
      const server = await startRedis();
      cleanups.push(() => server.stop());
      redis = { host: server.host, port: server.port };
    }
    // Vault or moto's Secrets Manager, when the tenants' credentials live there.
    const secretStore = await startSecretStore(options.secrets);
    if (secretStore) cleanups.push(() => secretStore.stop());
    const inboxDir =
      options.inboxDir ?? (existsSync(join(DEFAULT_INBOX_DIR, 'index.html')) ? DEFAULT_INBOX_DIR : undefined);

    const tenants = await Promise.all(
      options.tenants.map(async (tenant, index): Promise<StackTenant> => {
        const run = randomBytes(3).toString('hex');
        const database = `sb_${tenant.slug.replaceAll('-', '_')}_${run}`;
        const roles = { owner: `${database}_owner`, app: `${database}_app` };
        const urls = await provisionTenantDatabase(adminUrl, {
          database,
          ownerRole: roles.owner,
          appRole: roles.app,
          passwords: { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex') },
        });
        cleanups.push(() => dropTenantDatabase(adminUrl, { database, roles: [roles.app, roles.owner] }));
        await migrate({ databaseUrl: urls.ownerUrl, direction: 'up', appRole: roles.app });
        const displayName = tenant.displayName ?? tenant.slug;
        const appDb = createDb({ databaseUrl: urls.appUrl, maxConnections: 1 });
        const tenantId = await ensureTenant(appDb, { slug: tenant.slug, displayName }).finally(() =>
          appDb.$disconnect(),
        );
        await seedOwner(urls.appUrl, tenantId, tenant.admin);

        const apiPort = options.apiPorts?.[index] ?? (await freePort());
        const apiUrl = `http://127.0.0.1:${apiPort}`;
        const internalToken = randomBytes(24).toString('hex');
        // Seals webhook secrets; the API seals with its first key, the worker opens with any.
        const sealingKeys = newSealingKeyEntry('k1');
        const redisUsers = await createRoleUsers(redis, tenant.slug, run);
        cleanups.push(() => redisUsers.remove());
        const meta = {
          accessToken: `EAA${randomBytes(16).toString('hex')}`,
          appSecret: randomBytes(16).toString('hex'),
          verifyToken: randomBytes(8).toString('hex'),
        };
        let emulator: CloudApiEmulator | undefined;
        if (tenant.cloudApi) {
          emulator = await createCloudApiEmulator({
            accessToken: meta.accessToken,
            appSecret: meta.appSecret,
            verifyToken: meta.verifyToken,
            webhookUrl: `${apiUrl}/webhooks/cloud-api`,
            phoneNumbers: [
              {
                id: tenant.cloudApi.phoneNumberId,
                displayPhoneNumber: tenant.cloudApi.displayPhoneNumber,
                verifiedName: tenant.cloudApi.verifiedName ?? displayName,
              },
            ],
            statuses: options.statuses ?? DEFAULT_EMULATOR_STATUSES,
          });
          const started = emulator;
          cleanups.push(() => started.close());
        }

        const mediaDir = join(workDir, tenant.slug, 'media');
        await mkdir(mediaDir, { recursive: true });
        // With the credentials in Vault or AWS: stored there, and the API is given the declared
        // session too, so it resolves the number's app secret and verify token from the store at
        // start, as it does in a pod of a tenant with that provider.
        const stored =
          secretStore && tenant.cloudApi
            ? await secretStore.storeSession(tenant.slug, tenant.cloudApi.sessionName, meta)
            : undefined;
        const storedSessionsFile = join(workDir, tenant.slug, 'sessions-in-store.json');
        if (stored && tenant.cloudApi) {
          const { sessionName, phoneNumberId } = tenant.cloudApi;
          await writeFile(
            storedSessionsFile,
            JSON.stringify([
              { name: sessionName, channel: 'cloud-api', phoneNumberId, credentials: stored.credentials },
            ]),
          );
        }
        const common = {
          PATH: process.env.PATH ?? '',
          SWITCHBOARD_TENANT: tenant.slug,
          SWITCHBOARD_DISPLAY_NAME: displayName,
          DATABASE_URL: urls.appUrl,
          REDIS_MODE: 'standalone',
          REDIS_URL: `redis://${redis.host}:${redis.port}/0`,
          INTERNAL_TOKEN: internalToken,
          SEALING_KEYS: sealingKeys,
          MEDIA_DIR: mediaDir,
          LOG_LEVEL: 'info',
          ...options.processEnv,
        };
        const apiMetricsPort = await freePort();
        const api = startProcess({
          name: `${tenant.slug}-api`,
          command: process.execPath,
          args: [API_SERVER],
          env: {
            ...common,
            REDIS_USERNAME: redisUsers.api.username,
            REDIS_PASSWORD: redisUsers.api.password,
            HOST: '127.0.0.1',
            PORT: String(apiPort),
            METRICS_HOST: '127.0.0.1',
            METRICS_PORT: String(apiMetricsPort),
            JWT_SIGNING_KEY: randomBytes(32).toString('hex'),
            ...(tenant.cloudApi
              ? { CLOUD_API_APP_SECRET: meta.appSecret, CLOUD_API_VERIFY_TOKEN: meta.verifyToken }
              : {}),
            ...(inboxDir ? { INBOX_DIR: inboxDir } : {}),
            ...(stored ? { ...stored.env, SWITCHBOARD_SESSIONS_FILE: storedSessionsFile } : {}),
          },
        });
        forwardLines(api, options.onLog);
        cleanups.push(() => api.stop());

        let workerMetricsPort: number | undefined;
        if (tenant.worker) {
          const sessionsFile = join(workDir, tenant.slug, 'sessions.json');
          const declared = tenant.cloudApi
            ? [
                {
                  name: tenant.cloudApi.sessionName,
                  channel: 'cloud-api',
                  phoneNumberId: tenant.cloudApi.phoneNumberId,
                  credentials: {
                    accessToken: 'secret://env/META_ACCESS_TOKEN',
                    appSecret: 'secret://env/META_APP_SECRET',
                    verifyToken: 'secret://env/META_VERIFY_TOKEN',
                  },
                },
              ]
            : [];
          // Credentials in Vault or AWS: the session points there instead of at variables.
          if (stored) for (const session of declared) session.credentials = stored.credentials;
          await writeFile(sessionsFile, JSON.stringify(declared));
          workerMetricsPort = await freePort();
          const worker = startProcess({
            name: `${tenant.slug}-worker`,
            command: process.execPath,
            args: [WORKER_SERVER],
            env: {
              ...common,
              REDIS_USERNAME: redisUsers.worker.username,
              REDIS_PASSWORD: redisUsers.worker.password,
              POD_NAME: `${tenant.slug}-worker-0`,
              SWITCHBOARD_SESSIONS_FILE: sessionsFile,
              METRICS_HOST: '127.0.0.1',
              METRICS_PORT: String(workerMetricsPort),
              MAX_SESSIONS_PER_WORKER: '50',
              // Replies show typing for a moment, as a person would; the demo should feel real.
              OUTBOUND_TYPING_DELAY: 'true',
              ...(emulator
                ? {
                    CLOUD_API_BASE_URL: emulator.url,
                    META_ACCESS_TOKEN: meta.accessToken,
                    META_APP_SECRET: meta.appSecret,
                    META_VERIFY_TOKEN: meta.verifyToken,
                  }
                : {}),
              ...(stored?.env ?? {}),
            },
          });
          forwardLines(worker, options.onLog);
          cleanups.push(() => worker.stop());
          await waitUntilReady(worker, `http://127.0.0.1:${workerMetricsPort}/readyz`, 60_000);
        }
        await waitUntilReady(api, `${apiUrl}/readyz`, 60_000);
        await waitUntilReady(api, `http://127.0.0.1:${apiMetricsPort}/readyz`, 10_000);
        return {
          slug: tenant.slug,
          tenantId,
          apiUrl,
          admin: { email: tenant.admin.email.toLowerCase(), password: tenant.admin.password },
          databaseUrl: urls.appUrl,
          ownerDatabaseUrl: urls.ownerUrl,
          keyPrefix: tenantKeyPrefix(tenant.slug),
          ...(tenant.cloudApi && emulator
            ? {
                cloudApi: {
                  phoneNumberId: tenant.cloudApi.phoneNumberId,
                  displayPhoneNumber: tenant.cloudApi.displayPhoneNumber,
                  sessionName: tenant.cloudApi.sessionName,
                  emulator,
                },
              }
            : {}),
          apiMetricsPort,
          ...(workerMetricsPort === undefined ? {} : { workerMetricsPort }),
          internalToken,
          sealingKeys,
          redisUsers: { api: redisUsers.api, worker: redisUsers.worker },
        };
      }),
    );
    return {
      tenants,
      ...(tenants[0]?.cloudApi ? { emulator: tenants[0].cloudApi.emulator } : {}),
      redis,
      ...(secretStore ? { secretStore } : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

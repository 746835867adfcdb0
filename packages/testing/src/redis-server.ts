import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aclUserLine, redisAclRules, sentinelAclRules } from '@switchboard/redis/acl';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from './ports.ts';
import { type ServiceProcess, startProcess } from './processes.ts';

/** Where a Redis or Sentinel process listens. */
export interface HostPort {
  host: string;
  port: number;
}

/** A Sentinel group as tests see it: the sentinels, the master group name and every data node. */
export interface SentinelGroupInfo {
  name: string;
  sentinels: HostPort[];
  nodes: HostPort[];
}

/** A running Redis-family server: where it listens, its pid and data directory. */
export interface RunningRedis extends HostPort {
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * The settings every test Redis shares. Queues need `noeviction` (an evicted BullMQ key is a
 * lost job); persistence is off because each run starts from nothing.
 */
function baseArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--maxmemory-policy',
    'noeviction',
    '--protected-mode',
    'no',
    '--daemonize',
    'no',
  ];
}

async function startRedisProcess(name: string, args: (port: number, dir: string) => string[]) {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), `switchboard-${name}-`));
  const service = startProcess({ name, command: 'redis-server', args: args(port, dir), tempDirs: [dir] });
  await waitUntilUp(service, port);
  return runningRedis(port, service, dir);
}

async function waitUntilUp(service: ServiceProcess, port: number): Promise<void> {
  const died = new Promise<never>((_, reject) =>
    service.child.once('exit', (code) =>
      reject(new Error(`${service.name} exited with ${code} before listening:\n${service.output()}`)),
    ),
  );
  await Promise.race([waitForPort(port), died]);
}

function runningRedis(port: number, service: ServiceProcess, dir: string): RunningRedis {
  return { host: HOST, port, pid: service.pid, dir, stop: () => service.stop() };
}

/** Starts a standalone redis-server on a free loopback port. */
export async function startRedis(): Promise<RunningRedis> {
  return await startRedisProcess('redis', baseArgs);
}

/**
 * The ACL users of a Sentinel group's own machinery, as the operator configures a tenant's
 * (packages/redis's acl.ts): replicas authenticate to the primary as `replication`, Sentinels to
 * the data nodes and to each other as `sentinel`, each with the rules of its role, so a rule
 * that is too narrow breaks replication or failover in every Sentinel test. The `default` user
 * stays on without a password: it is the fixtures' and the tests' administrator.
 */
const GROUP_PASSWORDS = {
  replication: randomBytes(18).toString('base64url'),
  sentinel: randomBytes(18).toString('base64url'),
};

/** `--user` arguments (one config directive) for a data node of the group. */
/** Sentinel's failover-timeout for the test groups: how long a failover may take before it gives up. */
const FAILOVER_TIMEOUT_MS = 5_000;

function groupUserArgs(): string[] {
  return (['replication', 'sentinel'] as const).flatMap((role) => [
    '--user',
    ...aclUserLine(role, GROUP_PASSWORDS[role], redisAclRules(role, { keyPrefix: '' }))
      .split(' ')
      .slice(1),
  ]);
}

/** Every node authenticates as `replication`: the primary too, since a failover makes it a replica. */
function dataNodeArgs(port: number, dir: string): string[] {
  return [
    ...baseArgs(port, dir),
    ...groupUserArgs(),
    '--masteruser',
    'replication',
    '--masterauth',
    GROUP_PASSWORDS.replication,
  ];
}

/** A running Sentinel group: one primary, replicas and sentinels, all on loopback. */
export interface RunningSentinelGroup extends SentinelGroupInfo {
  stop(): Promise<void>;
}

/** Options for {@link startSentinelGroup}. */
export interface SentinelGroupOptions {
  name?: string;
  replicas?: number;
  sentinels?: number;
}

/**
 * Starts a real Sentinel group from Debian's redis-server and redis-sentinel: a primary, two
 * replicas and three sentinels with a quorum of two. down-after is short (1 s) so forced and
 * real failovers finish in a few seconds inside a test.
 */
export async function startSentinelGroup(options: SentinelGroupOptions = {}): Promise<RunningSentinelGroup> {
  const name = options.name ?? 'mymaster';
  const stops: (() => Promise<void>)[] = [];
  try {
    const primary = await startRedisProcess('redis-primary', dataNodeArgs);
    stops.push(primary.stop);
    const nodes: HostPort[] = [{ host: primary.host, port: primary.port }];
    for (let i = 0; i < (options.replicas ?? 2); i++) {
      const replica = await startRedisProcess(`redis-replica-${i}`, (port, dir) => [
        ...dataNodeArgs(port, dir),
        '--replicaof',
        primary.host,
        String(primary.port),
        // Replicas announce loopback so Sentinel hands clients an address they can reach.
        '--replica-announce-ip',
        HOST,
      ]);
      stops.push(replica.stop);
      nodes.push({ host: replica.host, port: replica.port });
    }
    const sentinels: HostPort[] = [];
    for (let i = 0; i < (options.sentinels ?? 3); i++) {
      const port = await freePort();
      const dir = await mkdtemp(join(tmpdir(), `switchboard-sentinel-${i}-`));
      const conf = join(dir, 'sentinel.conf');
      // Sentinel rewrites its config file as it learns the topology, so each gets its own.
      await writeFile(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${dir}`,
          'protected-mode no',
          `sentinel announce-ip ${HOST}`,
          `sentinel monitor ${name} ${primary.host} ${primary.port} 2`,
          `sentinel auth-user ${name} sentinel`,
          `sentinel auth-pass ${name} ${GROUP_PASSWORDS.sentinel}`,
          'sentinel sentinel-user sentinel',
          `sentinel sentinel-pass ${GROUP_PASSWORDS.sentinel}`,
          aclUserLine('sentinel', GROUP_PASSWORDS.sentinel, sentinelAclRules('sentinel')),
          'user default on nopass allkeys allchannels +@all',
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const service = startProcess({
        name: `sentinel-${i}`,
        command: 'redis-sentinel',
        args: [conf],
        tempDirs: [dir],
      });
      await waitUntilUp(service, port);
      stops.push(service.stop);
      sentinels.push({ host: HOST, port });
    }
    const group = { name, sentinels, nodes };
    await waitForSentinelGroup(group);
    return {
      ...group,
      async stop() {
        await Promise.all(stops.map((stop) => stop()));
      },
    };
  } catch (error) {
    await Promise.allSettled(stops.map((stop) => stop()));
    throw error;
  }
}

/**
 * Resolves when every sentinel names the same primary, sees all replicas and the other sentinels,
 * and the primary itself reports every replica online.
 */
export async function waitForSentinelGroup(
  group: SentinelGroupInfo,
  { timeoutMs = 20_000, replicasOnline = true }: { timeoutMs?: number; replicasOnline?: boolean } = {},
): Promise<HostPort> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const views = await Promise.all(
      group.sentinels.map((s) => sentinelView(s, group.name).catch(() => null)),
    );
    const masters = new Set(views.map((v) => (v ? `${v.master.host}:${v.master.port}` : 'none')));
    const complete = views.every(
      (v) =>
        v !== null &&
        (!replicasOnline || v.replicas >= group.nodes.length - 1) &&
        v.sentinels >= group.sentinels.length - 1,
    );
    if (masters.size === 1 && !masters.has('none') && complete) {
      const master = views[0]!.master;
      const online = await onlineReplicasOf(master);
      if (online >= (replicasOnline ? group.nodes.length - 1 : 0)) return master;
    }
    last = JSON.stringify(views);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sentinel group ${group.name} did not settle within ${timeoutMs} ms: ${last}`);
}

async function sentinelView(sentinel: HostPort, name: string) {
  const client = new Redis({
    ...sentinel,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null;
    if (!addr) throw new Error('no master');
    const replicas = (await client.call('SENTINEL', 'replicas', name)) as string[][];
    const healthyReplicas = replicas.filter((fields) => {
      const flags = fields[fields.indexOf('flags') + 1] ?? '';
      return !flags.includes('down') && !flags.includes('disconnected');
    });
    const sentinels = (await client.call('SENTINEL', 'sentinels', name)) as string[][];
    return {
      master: { host: addr[0], port: Number(addr[1]) },
      replicas: healthyReplicas.length,
      sentinels: sentinels.length,
    };
  } finally {
    client.disconnect();
  }
}

/** How many replicas a primary reports online (-1 when the node is not a writable primary). */
async function onlineReplicasOf(node: HostPort): Promise<number> {
  const client = new Redis({
    ...node,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    const info = await client.info('replication');
    if (!/^role:master$/m.test(info)) return -1;
    return info.split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length;
  } catch {
    return -1;
  } finally {
    client.disconnect();
  }
}

/**
 * The primary once the group is whole again: every sentinel names it, and the primary itself
 * reports every other node as an online replica. The primary's own INFO is the fast signal:
 * the sentinels' replica lists catch up with a demoted primary only on their 10 s INFO refresh.
 */
export async function waitForWholeGroup(group: SentinelGroupInfo, timeoutMs = 20_000): Promise<HostPort> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const master = await waitForSentinelGroup(group, {
      timeoutMs: Math.max(1_000, deadline - Date.now()),
      replicasOnline: false,
    });
    if ((await onlineReplicasOf(master)) >= group.nodes.length - 1) return master;
    if (Date.now() > deadline) {
      throw new Error(
        `sentinel group ${group.name}: ${master.host}:${master.port} has not got all its replicas back`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The primary every sentinel currently names, once they agree. */
export async function currentPrimary(group: SentinelGroupInfo): Promise<HostPort> {
  return await waitForSentinelGroup(group, { replicasOnline: false });
}

/**
 * Forces a Sentinel failover and waits until every sentinel names a new, writable primary.
 * Sentinel answers INPROG (or NOGOODSLAVE while replicas resync) when it cannot start one yet:
 * that is retried. A forced failover Sentinel gave up on (its failover-timeout passed without a
 * promotion, as a replica slow to answer on a loaded machine can make it) is not retried by
 * Sentinel: once the asked sentinel reports no failover in progress and still names the old
 * primary, it is asked again. Callers do not wait for the old primary's full resync as a replica.
 */
export async function forceFailover(
  group: SentinelGroupInfo,
  timeoutMs = 30_000,
): Promise<{ from: HostPort; to: HostPort }> {
  const deadline = Date.now() + timeoutMs;
  const from = await waitForSentinelGroup(group, { timeoutMs, replicasOnline: false });
  const client = new Redis({ ...group.sentinels[0]!, maxRetriesPerRequest: 0, lazyConnect: true });
  const ask = async (): Promise<void> => {
    for (;;) {
      try {
        await client.call('SENTINEL', 'FAILOVER', group.name);
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (!/INPROG|NOGOODSLAVE|NOGOODREPLICA/.test(message) || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const gaveUp = async (): Promise<boolean> => {
    const fields = (await client.call('SENTINEL', 'MASTER', group.name)) as string[];
    const field = (name: string) => fields[fields.indexOf(name) + 1];
    const flags = field('flags') ?? '';
    return (
      !flags.includes('failover_in_progress') &&
      field('ip') === from.host &&
      Number(field('port')) === from.port
    );
  };
  try {
    await client.connect();
    await ask();
    let askedAt = Date.now();
    while (Date.now() < deadline) {
      const to = await waitForSentinelGroup(group, {
        timeoutMs: Math.max(1_000, Math.min(deadline, askedAt + 2 * FAILOVER_TIMEOUT_MS) - Date.now()),
        replicasOnline: false,
      }).catch(() => null);
      if (to && (to.host !== from.host || to.port !== from.port)) return { from, to };
      if (Date.now() - askedAt > FAILOVER_TIMEOUT_MS && (await gaveUp().catch(() => false))) {
        await ask();
        askedAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.disconnect();
  }
  throw new Error(
    `sentinel failover of ${group.name} away from ${from.host}:${from.port} did not complete in ${timeoutMs} ms`,
  );
}

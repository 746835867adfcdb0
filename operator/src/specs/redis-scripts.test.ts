import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startProcess, waitForPort } from '@switchboard/testing/servers';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import { redisGroupEnv, redisServerEnv } from './redis.ts';
import { buildRedisScriptsConfigMap, REDIS_SCRIPTS } from './redis-scripts.ts';

const run = promisify(execFile);

// The scripts run against real `sh`; what they would reach in a cluster (Sentinels and Redis
// pods by DNS name) is played by a stand-in redis-cli that answers from environment variables.
const FAKE_REDIS_CLI = `#!/bin/sh
host=localhost
while [ $# -gt 0 ]; do
  case "$1" in
    --raw) shift ;;
    --user) shift 2 ;;
    -h) host="$2"; shift 2 ;;
    -p) shift 2 ;;
    *) break ;;
  esac
done
case "$1" in
  SENTINEL) case "$host" in *sentinel*) printf '%s\\n' "\${FAKE_SENTINEL_ANSWER:-}" ;; esac ;;
  ROLE) if [ "$host" = "\${FAKE_PRIMARY:-}" ]; then echo master; else echo slave; fi ;;
  PING) echo PONG ;;
esac
`;

const tenant = tenantFixture({}, { name: 'acme' });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchboard-redis-scripts-'));
  const stubs: Record<string, string> = {
    'redis-cli': FAKE_REDIS_CLI,
    timeout: '#!/bin/sh\nshift\nexec "$@"\n',
    'redis-server': '#!/bin/sh\ncat "$1"\n',
    'redis-sentinel': '#!/bin/sh\ncat "$1"\n',
    sleep: '#!/bin/sh\n',
  };
  for (const [name, body] of Object.entries(stubs)) {
    await writeFile(join(dir, name), body);
    await chmod(join(dir, name), 0o755);
  }
  for (const [name, body] of Object.entries(REDIS_SCRIPTS)) await writeFile(join(dir, name), body);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a script as pod `hostname` with the StatefulSets' environment; returns its output. */
async function start(script: string, hostname: string, fake: Record<string, string> = {}): Promise<string> {
  const env: Record<string, string> = {
    PATH: `${dir}:${process.env.PATH}`,
    HOSTNAME: hostname,
    NAMESPACE: 'tenants',
    CONFIG_DIR: dir,
    SENTINEL_DIR: dir,
    ...fake,
  };
  for (const variable of [...redisGroupEnv(tenant, operatorConfigFixture()), ...redisServerEnv(tenant)]) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    // A password from the generated Secret: a stand-in value named after its variable.
    else if (variable.valueFrom?.secretKeyRef) env[variable.name] = `pw-${variable.name.toLowerCase()}`;
  }
  await rm(join(dir, 'sentinel.conf'), { force: true });
  const { stdout } = await run('sh', [join(dir, script)], { env });
  return stdout;
}

const host = (pod: string) => `${pod}.${pod.replace(/-\d+$/, '')}.tenants.svc.cluster.local`;

describe('the scripts', () => {
  it('are valid sh', async () => {
    for (const name of Object.keys(REDIS_SCRIPTS)) await run('sh', ['-n', join(dir, name)]);
  });

  it('are mounted from one ConfigMap', () => {
    expect(Object.keys(buildRedisScriptsConfigMap(tenant).data ?? {})).toEqual(Object.keys(REDIS_SCRIPTS));
  });
});

describe('redis-start.sh', () => {
  it('replicates the primary the Sentinels name', async () => {
    const output = await start('redis-start.sh', 'acme-redis-0', {
      FAKE_SENTINEL_ANSWER: host('acme-redis-2'),
    });
    expect(output).toContain(`replicaof ${host('acme-redis-2')} 6379`);
    expect(output).toContain(`replica-announce-ip ${host('acme-redis-0')}`);
    expect(output).toContain('user default off');
    expect(output).toContain('masteruser replication');
    expect(output).toContain('masterauth pw-redis_replication_password');
  });

  it('starts as the primary when the Sentinels name this pod', async () => {
    const output = await start('redis-start.sh', 'acme-redis-1', {
      FAKE_SENTINEL_ANSWER: host('acme-redis-1'),
    });
    expect(output).not.toContain('replicaof');
    expect(output).toContain('starting as the primary');
  });

  it('asks the other pods when no Sentinel answers', async () => {
    const output = await start('redis-start.sh', 'acme-redis-0', { FAKE_PRIMARY: host('acme-redis-1') });
    expect(output).toContain(`replicaof ${host('acme-redis-1')} 6379`);
  });

  it('ignores a Sentinel answer that is not a host name', async () => {
    const output = await start('redis-start.sh', 'acme-redis-2', {
      FAKE_SENTINEL_ANSWER: 'NOAUTH Authentication required.',
    });
    expect(output).toContain(`replicaof ${host('acme-redis-0')} 6379`);
  });

  it('in a new group, makes ordinal 0 the primary and the others its replicas', async () => {
    expect(await start('redis-start.sh', 'acme-redis-0')).not.toContain('replicaof');
    expect(await start('redis-start.sh', 'acme-redis-2')).toContain(`replicaof ${host('acme-redis-0')} 6379`);
  });
});

describe('redis-start.sh, the memory and replication settings', () => {
  it('bounds memory with noeviction and refuses writes no replica acknowledged', async () => {
    const output = await start('redis-start.sh', 'acme-redis-1', {});
    const lines = output.split('\n');
    // 75% of the default 512Mi limit.
    expect(lines).toContain('maxmemory 402653184');
    expect(lines).toContain('maxmemory-policy noeviction');
    expect(lines).toContain('min-replicas-to-write 1');
    expect(lines).toContain('min-replicas-max-lag 10');
  });
});

describe('sentinel-start.sh', () => {
  it('monitors the primary another Sentinel knows, by host name, with a majority quorum', async () => {
    const output = await start('sentinel-start.sh', 'acme-sentinel-1', {
      FAKE_SENTINEL_ANSWER: host('acme-redis-2'),
    });
    expect(output).toContain(`sentinel monitor mymaster ${host('acme-redis-2')} 6379 2`);
    expect(output).toContain('sentinel resolve-hostnames yes');
    expect(output).toContain('sentinel announce-hostnames yes');
    expect(output).toContain(`sentinel announce-ip ${host('acme-sentinel-1')}`);
  });

  it('falls back to a primary Redis pod, then to ordinal 0', async () => {
    expect(
      await start('sentinel-start.sh', 'acme-sentinel-0', { FAKE_PRIMARY: host('acme-redis-1') }),
    ).toContain(`sentinel monitor mymaster ${host('acme-redis-1')} 6379 2`);
    expect(await start('sentinel-start.sh', 'acme-sentinel-0')).toContain(
      `sentinel monitor mymaster ${host('acme-redis-0')} 6379 2`,
    );
  });

  it('keeps the config Sentinel rewrote when the container restarts', async () => {
    await start('sentinel-start.sh', 'acme-sentinel-0');
    const env = {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      SENTINEL_DIR: dir,
      HOSTNAME: 'acme-sentinel-0',
    };
    await writeFile(join(dir, 'sentinel.conf'), 'learned state\n');
    const { stdout } = await run('sh', [join(dir, 'sentinel-start.sh')], { env });
    expect(stdout).toBe('learned state\n');
    expect(await readFile(join(dir, 'sentinel.conf'), 'utf8')).toBe('learned state\n');
  });
});

describe('the config the scripts write, on a real Redis and Sentinel', () => {
  /** `text` with each line starting with a key of `lines` replaced by its value. */
  const setLines = (text: string, lines: Record<string, string>) =>
    text
      .split('\n')
      .map((line) => {
        const key = Object.keys(lines).find((k) => line === k || line.startsWith(`${k} `));
        return key === undefined ? line : lines[key]!;
      })
      .join('\n');

  async function refusal(command: Promise<unknown>): Promise<string> {
    try {
      await command;
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('the command was allowed');
  }

  it('starts them with the ACL users: default off, each role with its rules, Sentinel logged in as `sentinel`', async () => {
    await start('redis-start.sh', 'acme-redis-0');
    const redisPort = await freePort();
    const redisDir = await mkdtemp(join(tmpdir(), 'switchboard-redis-acl-'));
    // Only where it listens and writes changes; min-replicas-to-write 0: this primary has no replicas.
    const redisConf = setLines(await readFile(join(dir, 'redis.conf'), 'utf8'), {
      bind: 'bind 127.0.0.1',
      port: `port ${redisPort}`,
      dir: `dir ${redisDir}`,
      'replica-announce-ip': 'replica-announce-ip 127.0.0.1',
      'min-replicas-to-write': 'min-replicas-to-write 0',
    });
    await writeFile(join(redisDir, 'redis.conf'), redisConf);
    const redis = startProcess({
      name: 'redis-acl',
      command: 'redis-server',
      args: [join(redisDir, 'redis.conf')],
      tempDirs: [redisDir],
    });
    const clients: Redis[] = [];
    const as = (user: string | undefined, port = redisPort) => {
      const password =
        user === undefined ? undefined : `pw-${user === 'admin' ? 'redis' : `redis_${user}`}_password`;
      const client = new Redis({
        port,
        host: '127.0.0.1',
        ...(user ? { username: user, password } : {}),
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      clients.push(client);
      return client;
    };
    const sentinelDir = await mkdtemp(join(tmpdir(), 'switchboard-sentinel-acl-'));
    let sentinel: ReturnType<typeof startProcess> | undefined;
    try {
      await waitForPort(redisPort);
      expect(await refusal(as(undefined).ping())).toMatch(/NOAUTH/);
      const api = as('api');
      await api.set('sb:acme:api:x', '1');
      expect(await refusal(api.hgetall('sb:acme:session:s:auth'))).toMatch(/NOPERM/);
      expect(await refusal(api.get('sb:other:api:x'))).toMatch(/NOPERM/);
      expect(await as('worker').hset('sb:acme:session:s:auth', 'creds', '{}')).toBe(1);
      expect(await refusal(as('worker').get('sb:other:x'))).toMatch(/NOPERM/);
      const users = (await as('admin').call('ACL', 'LIST')) as string[];
      expect(users.map((line) => line.split(' ').slice(0, 3).join(' ')).sort()).toEqual([
        'user admin on',
        'user api on',
        'user default off',
        'user replication on',
        'user sentinel on',
        'user worker on',
      ]);

      await start('sentinel-start.sh', 'acme-sentinel-0');
      const sentinelPort = await freePort();
      const sentinelConf = setLines(await readFile(join(dir, 'sentinel.conf'), 'utf8'), {
        port: `port ${sentinelPort}`,
        'sentinel announce-ip': 'sentinel announce-ip 127.0.0.1',
        'sentinel monitor': `sentinel monitor mymaster 127.0.0.1 ${redisPort} 1`,
      });
      await writeFile(
        join(sentinelDir, 'sentinel.conf'),
        `${sentinelConf}\nbind 127.0.0.1\ndir ${sentinelDir}\n`,
      );
      sentinel = startProcess({
        name: 'sentinel-acl',
        command: 'redis-sentinel',
        args: [join(sentinelDir, 'sentinel.conf')],
        tempDirs: [sentinelDir],
      });
      await waitForPort(sentinelPort);
      const asked = as('api', sentinelPort);
      expect(await asked.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')).toEqual([
        '127.0.0.1',
        String(redisPort),
      ]);
      expect(await refusal(asked.call('SENTINEL', 'FAILOVER', 'mymaster'))).toMatch(/NOPERM/);
      expect(await refusal(as(undefined, sentinelPort).ping())).toMatch(/NOAUTH/);
      // The Sentinel reached Redis as its own user: its connections show up under `sentinel`.
      for (;;) {
        const list = (await as('admin').call('CLIENT', 'LIST')) as string;
        if (/ cmd=(info|ping|publish|subscribe) user=sentinel /.test(list)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      for (const client of clients) client.disconnect();
      await sentinel?.stop();
      await redis.stop();
    }
  });
});

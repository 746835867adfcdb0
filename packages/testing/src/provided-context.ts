// What the global setup hands to test files through vitest's provide/inject. The augmentation
// lives in its own module, imported by every file that calls inject(), so that any TypeScript
// program compiling those files (also another workspace's, through @switchboard/testing) sees it.
import type { PostgresServerInfo } from './postgres-server.ts';
import type { HostPort, SentinelGroupInfo } from './redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's Postgres server (superuser credentials, loopback). */
    postgres: PostgresServerInfo;
    /** The run's standalone Redis. */
    redis: HostPort;
    /** The run's Sentinel group: one primary, two replicas, three sentinels. */
    sentinel: SentinelGroupInfo;
  }
}

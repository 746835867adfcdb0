// A Lua script run by its SHA-1 (EVALSHA), as Redis' scripting guide advises for scripts run
// often: the script's text crosses the wire only when the server does not have it yet (a first
// run, a restart, a failover to a replica that never ran it, SCRIPT FLUSH), and the server does
// not hash the text again on every call.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script, run with EVALSHA and, when the server answers NOSCRIPT, once with EVAL. */
export class RedisScript {
  readonly lua: string;
  readonly sha: string;

  constructor(lua: string) {
    this.lua = lua;
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script with `keys` (KEYS) and `args` (ARGV); answers what the script returns. */
  async run(
    redis: Redis,
    keys: readonly string[],
    args: readonly (string | number)[] = [],
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // EVAL runs it and loads it, so the next EVALSHA finds it.
      return await redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

import { queuePrefix, tenantKeyPrefix } from '@switchboard/messaging/producer';
import { queueTelemetry } from '@switchboard/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The BullMQ queues the API adds jobs to, one `Queue` per (tenant, queue name), opened on first
 * use and kept: a Queue holds no connection of its own (it shares `redis`), so keeping one per
 * session is cheap, and reopening one per request would re-run BullMQ's script loading each time.
 */
export class TenantQueues {
  private readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** The tenant's queue `name` (under `sb:<slug>:bull`). */
  get(slug: string, name: string): Queue {
    const key = `${slug}/${name}`;
    let queue = this.queues.get(key);
    if (!queue) {
      // telemetry: a job carries the trace of the request that added it (queue-telemetry.ts).
      queue = new Queue(name, {
        connection: this.redis,
        prefix: queuePrefix(tenantKeyPrefix(slug)),
        telemetry: queueTelemetry(),
      });
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** Closes every queue opened (the shared connection stays open: its owner closes it). */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
  }
}

// The worker's one reader of customers' messages, on a real Redis stream: every inbound
// `message.created` reaches every handler, in order for ordered handlers; other entries reach
// none; a failing handler is reported and holds nobody up; a concurrent handler's slow message
// does not hold the next ones, and close() waits for it.
import { randomUUID } from 'node:crypto';
import { REALTIME_EVENT_FIELD, realtimeStreamKey } from '@switchboard/messaging';
import { deleteKeysWithPrefix, redisOptions, uniquePrefix } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../packages/messaging/src/testing/fixtures.ts';
import { type CustomerMessageHandler, CustomerMessageReader } from './customer-messages.ts';

let redis: Redis;
const closers: (() => Promise<void>)[] = [];

beforeAll(() => {
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  redis?.disconnect();
});

/** A reader of its own stream (its own key prefix), started once its first XREAD is blocked. */
async function startReader(
  handlers: CustomerMessageHandler[],
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void,
) {
  const keyPrefix = `${uniquePrefix('customer-messages')}:`;
  const name = `${keyPrefix.replaceAll(':', '-')}reader`;
  const reader = new CustomerMessageReader({
    connection: new Redis({ ...redisOptions(), connectionName: name }),
    keyPrefix,
    handlers,
    ...(onError ? { onError } : {}),
  });
  closers.push(async () => {
    await reader.close();
    await deleteKeysWithPrefix(redis, keyPrefix);
  });
  reader.start();
  // The reader starts at the stream's end ($): wait until its first XREAD is blocked.
  await eventually(async () => {
    const clients = (await redis.client('LIST')) as string;
    return clients.split('\n').some((line) => line.includes(`name=${name} `) && line.includes('cmd=xread'));
  });
  const append = async (value: unknown, field = REALTIME_EVENT_FIELD) => {
    await redis.xadd(
      realtimeStreamKey(keyPrefix),
      '*',
      field,
      typeof value === 'string' ? value : JSON.stringify(value),
    );
  };
  return { reader, append };
}

const created = (direction: 'inbound' | 'outbound', messageId = randomUUID()) => ({
  type: 'message.created',
  at: new Date().toISOString(),
  data: { messageId, conversationId: randomUUID(), sessionId: randomUUID(), direction },
});

describe('CustomerMessageReader', () => {
  it('hands every customer message to every handler, in order, and nothing else', async () => {
    const seen: string[] = [];
    const { append } = await startReader([
      { name: 'first', handle: async (id) => seen.push(`first:${id}`) },
      { name: 'second', handle: async (id) => seen.push(`second:${id}`) },
    ]);
    const [a, b, last] = [randomUUID(), randomUUID(), randomUUID()];
    await append(created('inbound', a));
    await append(created('outbound'));
    await append({ type: 'message.updated', at: new Date().toISOString(), data: {} });
    await append('{not json');
    await append(created('inbound'), 'other-field');
    await append(created('inbound', b));
    await append(created('inbound', last));
    await eventually(async () => seen.length === 6);
    expect(seen).toEqual([
      `first:${a}`,
      `second:${a}`,
      `first:${b}`,
      `second:${b}`,
      `first:${last}`,
      `second:${last}`,
    ]);
  });

  it('reports a failing handler and still hands the message to the others, and the next messages', async () => {
    const errors: { what: string; messageId?: string }[] = [];
    const seen: string[] = [];
    const { append } = await startReader(
      [
        {
          name: 'away reply',
          handle: async (id) => {
            throw new Error(`cannot answer ${id}`);
          },
        },
        { name: 'bot dispatch', handle: async (id) => seen.push(id) },
      ],
      (_error, context) => errors.push(context),
    );
    const [a, b] = [randomUUID(), randomUUID()];
    await append(created('inbound', a));
    await append(created('inbound', b));
    await eventually(async () => seen.length === 2);
    expect(seen).toEqual([a, b]);
    expect(errors).toEqual([
      { what: 'away reply', messageId: a },
      { what: 'away reply', messageId: b },
    ]);
  });

  it("does not hold the next messages for a concurrent handler's slow one, and close() waits for it", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const concurrent: string[] = [];
    const ordered: string[] = [];
    let finished = false;
    const { reader, append } = await startReader([
      {
        name: 'assistant reply',
        mode: 'concurrent',
        handle: async (id) => {
          concurrent.push(id);
          if (concurrent.length === 1) {
            await held;
            finished = true;
          }
        },
      },
      { name: 'away reply', handle: async (id) => ordered.push(id) },
    ]);
    const [a, b] = [randomUUID(), randomUUID()];
    await append(created('inbound', a));
    await append(created('inbound', b));
    // The first message is still held by the concurrent handler, yet both went through.
    await eventually(async () => ordered.length === 2 && concurrent.length === 2);
    expect(finished).toBe(false);
    const closed = reader.close();
    release();
    await closed;
    expect(finished).toBe(true);
  });
});

// The worker's one reader of customers' messages, on a real Redis stream: every inbound
// `message.created` reaches every handler, in order for ordered handlers; other entries reach
// none; a failing handler is reported and holds nobody up; a concurrent handler's slow message
// does not hold the next ones, and close() waits for it; a restart resumes from the readers'
// position, bounded by the resume window; the position only moves forward.
import { randomUUID } from 'node:crypto';
import { REALTIME_EVENT_FIELD, realtimeStreamKey } from '@switchboard/messaging';
import { deleteKeysWithPrefix, redisOptions, uniquePrefix } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../packages/messaging/src/testing/fixtures.ts';
import {
  advancePosition,
  type CustomerMessageHandler,
  CustomerMessageReader,
  positionKey,
} from './customer-messages.ts';

let redis: Redis;
const closers: (() => Promise<void>)[] = [];

beforeAll(() => {
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  redis?.disconnect();
});

/** A reader of its own stream (its own key prefix unless given), started once its first XREAD is blocked. */
async function startReader(
  handlers: CustomerMessageHandler[],
  onError?: (error: unknown, context: { what: string; messageId?: string }) => void,
  options: { keyPrefix?: string; resumeWindowMs?: number } = {},
) {
  const keyPrefix = options.keyPrefix ?? `${uniquePrefix('customer-messages')}:`;
  const name = `${keyPrefix.replaceAll(':', '-')}reader`;
  const reader = new CustomerMessageReader({
    connection: new Redis({ ...redisOptions(), connectionName: name }),
    keyPrefix,
    handlers,
    ...(onError ? { onError } : {}),
    ...(options.resumeWindowMs ? { resumeWindowMs: options.resumeWindowMs } : {}),
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
  return { reader, append: appender(keyPrefix), keyPrefix };
}

/** Appends an entry to the stream of `keyPrefix` (at `id`, default `*`); answers its id. */
function appender(keyPrefix: string) {
  return async (value: unknown, field = REALTIME_EVENT_FIELD, id = '*') =>
    (await redis.xadd(
      realtimeStreamKey(keyPrefix),
      id,
      field,
      typeof value === 'string' ? value : JSON.stringify(value),
    )) as string;
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

  it('resumes after a restart from where the readers were, and no earlier than the resume window', async () => {
    const seen: string[] = [];
    const handlers = [{ name: 'away reply', handle: async (id: string) => seen.push(id) }];
    const first = await startReader(handlers);
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await first.append(created('inbound', a));
    await eventually(async () => seen.length === 1);
    await first.reader.close();
    // Stored while no reader read the stream: the next start hands them on, not `a` again.
    await first.append(created('inbound', b));
    const last = await first.append(created('inbound', c));
    await startReader(handlers, undefined, { keyPrefix: first.keyPrefix });
    await eventually(async () => seen.length === 3);
    expect(seen).toEqual([a, b, c]);
    expect(await redis.get(positionKey(first.keyPrefix))).toBe(last);

    // A position older than the window: the start skips what is older than the window.
    const keyPrefix = `${uniquePrefix('customer-messages')}:`;
    closers.push(() => deleteKeysWithPrefix(redis, keyPrefix).then(() => undefined));
    const now = Date.now();
    const append = appender(keyPrefix);
    const [old, recent] = [randomUUID(), randomUUID()];
    await append(created('inbound', old), REALTIME_EVENT_FIELD, `${now - 30 * 60_000}-0`);
    await append(created('inbound', recent), REALTIME_EVENT_FIELD, `${now - 60_000}-0`);
    await redis.set(positionKey(keyPrefix), `${now - 3600_000}-0`);
    const late: string[] = [];
    await startReader([{ name: 'away reply', handle: async (id) => late.push(id) }], undefined, {
      keyPrefix,
      resumeWindowMs: 10 * 60_000,
    });
    await eventually(async () => late.length === 1);
    expect(late).toEqual([recent]);
  });

  it('moves the position forward only (replicas race)', async () => {
    const keyPrefix = `${uniquePrefix('customer-messages')}:`;
    closers.push(() => deleteKeysWithPrefix(redis, keyPrefix).then(() => undefined));
    await advancePosition(redis, keyPrefix, '1700000000000-5');
    await advancePosition(redis, keyPrefix, '1700000000000-4');
    await advancePosition(redis, keyPrefix, '1699999999999-9');
    expect(await redis.get(positionKey(keyPrefix))).toBe('1700000000000-5');
    await advancePosition(redis, keyPrefix, '1700000000001-0');
    expect(await redis.get(positionKey(keyPrefix))).toBe('1700000000001-0');
    expect(await redis.pttl(positionKey(keyPrefix))).toBeGreaterThan(0);
  });
});

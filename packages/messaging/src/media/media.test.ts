import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableChannelError } from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mediaDownloadJobId,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  type RealtimeEvent,
  realtimeEventSchema,
  realtimeStreamKey,
} from '../contracts.ts';
import { InboundPipeline } from '../inbound/pipeline.ts';
import { eventually, inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { MediaDownloadWorker } from './download-worker.ts';
import { assertStorageKey, LocalMediaStorage } from './storage.ts';

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(600, 7)]);
const files: Record<string, Buffer> = {
  jpeg: JPEG,
  big: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 1)]),
  fakepng: Buffer.from('this is not a png at all'),
  exe: Buffer.from('MZ...'),
  /** Served 3 bytes at a time: the signature check must put the head together across chunks. */
  jpeg3: JPEG,
  /** 2 bytes, shorter than the head the signature check looks at. */
  tiny: Buffer.from([0xff, 0xd8]),
};
const CHUNK_BYTES: Record<string, number> = { jpeg3: 3 };
/** Refs whose fetch fails the way a channel's fetcher does. */
const failures: Record<string, () => Error> = {
  expired: () =>
    new UnrecoverableChannelError('MEDIA_DOWNLOAD_FAILED', 'WhatsApp no longer has the file (HTTP 410)'),
};
const fetchContexts: { sessionId: string; messageId: string }[] = [];

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
let root: string;
let pipeline: InboundPipeline;
let worker: MediaDownloadWorker;
let queue: Queue;
const namespace = redisNamespace('media');
const keyPrefix = `${namespace.prefix}:`;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-media' });
  const seeded = await seedTenant(database, 1);
  db = seeded.db;
  tenantId = seeded.tenantId;
  sessionId = seeded.sessionIds[0]!;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  root = await mkdtemp(join(tmpdir(), 'sb-media-'));
  pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix });
  queue = new Queue(QUEUE_NAMES.mediaDownloads, { connection: redis, prefix: queuePrefix(keyPrefix) });
  worker = new MediaDownloadWorker({
    db,
    connection: redis,
    keyPrefix,
    storage: new LocalMediaStorage(root),
    maxBytes: 1024,
    fetchMedia: async (ref, _signal, context) => {
      fetchContexts.push(context);
      const failure = failures[ref.data];
      if (failure) throw failure();
      const file = files[ref.data]!;
      // Served in chunks, as a provider stream is.
      return (async function* () {
        const step = CHUNK_BYTES[ref.data] ?? 256;
        for (let i = 0; i < file.length; i += step) yield file.subarray(i, i + step);
      })();
    },
  });
  await worker.start();
});

afterAll(async () => {
  await worker.close();
  await queue.close();
  await pipeline.close();
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
  await rm(root, { recursive: true, force: true });
});

async function receive(id: string, file: string, mimetype: string, sha256?: string): Promise<string> {
  const result = await pipeline.handleMessage(
    inboundMessage(
      sessionId,
      id,
      { pn: '4918000000001' },
      {
        type: 'image',
        media: { mimetype, ...(sha256 ? { sha256 } : {}), download: { provider: 'baileys', data: file } },
      },
    ),
  );
  if (result.outcome !== 'created') throw new Error('expected a new message');
  return result.messageId;
}

async function settled(messageId: string): Promise<string> {
  let state = '';
  await eventually(async () => {
    state = (await (await queue.getJob(mediaDownloadJobId(messageId)))?.getState()) ?? '';
    return state === 'completed' || state === 'failed';
  });
  return state;
}

describe('MediaDownloadWorker', () => {
  it('stores inbound media and records its key, size and hash', async () => {
    const sha = createHash('sha256').update(JPEG).digest('hex');
    const id = await receive('MD-1', 'jpeg', 'image/jpeg', sha);
    expect(await settled(id)).toBe('completed');
    const message = await withTenant(db, tenantId, (tx) => tx.message.findUniqueOrThrow({ where: { id } }));
    expect(message.mediaStorageKey).toBe(`media/${sessionId}/${id}`);
    expect(message.mediaSizeBytes).toBe(BigInt(JPEG.length));
    expect(message.mediaSha256).toBe(sha);
    expect(Buffer.from((await new LocalMediaStorage(root).get(message.mediaStorageKey!))!)).toEqual(JPEG);
  });

  it('refuses files over the limit, of a disallowed type, not matching their type or their hash', async () => {
    const cases = [
      { id: 'MD-2', file: 'big', type: 'image/jpeg', reason: /over 1024 bytes/ },
      { id: 'MD-3', file: 'exe', type: 'application/x-msdownload', reason: /is not allowed/ },
      { id: 'MD-4', file: 'fakepng', type: 'image/png', reason: /is not a image\/png file/ },
      { id: 'MD-5', file: 'jpeg', type: 'image/jpeg', sha: 'ab'.repeat(32), reason: /SHA-256/ },
      { id: 'MD-5b', file: 'tiny', type: 'image/jpeg', reason: /is not a image\/jpeg file/ },
    ];
    const storage = new LocalMediaStorage(root);
    for (const c of cases) {
      const id = await receive(c.id, c.file, c.type, c.sha);
      expect(await settled(id)).toBe('failed');
      const job = await queue.getJob(mediaDownloadJobId(id));
      expect(job?.failedReason).toMatch(c.reason);
      // Unrecoverable: one attempt, not five.
      expect(job?.attemptsMade).toBe(1);
      const message = await withTenant(db, tenantId, (tx) => tx.message.findUniqueOrThrow({ where: { id } }));
      expect(message.mediaStorageKey).toBeNull();
      // The file streamed into storage and failed a check on the way (the hash only at its end):
      // nothing is left under its key, and no temp file beside it.
      expect(await storage.get(`media/${sessionId}/${id}`)).toBeUndefined();
    }
    const left = await readdir(root, { recursive: true });
    expect(left.filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('puts the signature check together from a head split over several chunks', async () => {
    const sha = createHash('sha256').update(JPEG).digest('hex');
    const id = await receive('MD-1b', 'jpeg3', 'image/jpeg', sha);
    expect(await settled(id)).toBe('completed');
    const message = await withTenant(db, tenantId, (tx) => tx.message.findUniqueOrThrow({ where: { id } }));
    expect(message.mediaSizeBytes).toBe(BigInt(JPEG.length));
    expect(Buffer.from((await new LocalMediaStorage(root).get(message.mediaStorageKey!))!)).toEqual(JPEG);
  });

  it('tells the fetcher whose media it is, and announces the stored file on the realtime stream', async () => {
    const id = await receive('MD-6', 'jpeg', 'image/jpeg');
    expect(await settled(id)).toBe('completed');
    expect(fetchContexts).toContainEqual({ sessionId, messageId: id });
    const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
    const updates = entries
      .map(([, fields]) => JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!) as RealtimeEvent)
      .filter((e) => e.type === 'message.updated' && e.data.messageId === id);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.data).toMatchObject({ messageId: id, status: expect.any(String) });
    // It carries the message, its file now available (described, never its bytes), per the contract.
    expect(realtimeEventSchema.parse(updates[0]).data).toMatchObject({
      message: {
        id,
        type: 'image',
        media: { mimeType: 'image/jpeg', sizeBytes: expect.any(Number), available: true },
      },
    });
  });

  it("fails for good, in one attempt, when the channel's fetcher says retrying cannot help", async () => {
    const id = await receive('MD-7', 'expired', 'image/jpeg');
    expect(await settled(id)).toBe('failed');
    const job = await queue.getJob(mediaDownloadJobId(id));
    expect(job?.failedReason).toMatch(/no longer has the file/);
    expect(job?.attemptsMade).toBe(1);
  });

  it('completes without downloading when there is no storage (MEDIA_STORAGE=none)', async () => {
    const none = new MediaDownloadWorker({
      db,
      connection: redis,
      keyPrefix,
      storage: undefined,
      fetchMedia: async () => {
        throw new Error('must not be called');
      },
    });
    const id = await receive('MD-8', 'jpeg', 'image/jpeg');
    expect(await settled(id)).toBe('completed');
    // Processed directly (the running worker above already took the queued job).
    const data = { tenantId, sessionId, messageId: id };
    await withTenant(db, tenantId, (tx) =>
      tx.message.update({ where: { id }, data: { mediaStorageKey: null } }),
    );
    expect(await none.process({ id: 'x', data } as never)).toBe('no-storage');
  });

  it('refuses storage keys that leave the root', () => {
    for (const key of ['../etc/passwd', '/abs', 'a/../../b', 'a//b', ''])
      expect(() => assertStorageKey(key), key).toThrow(/not a relative path/);
    expect(() => assertStorageKey('media/s/m')).not.toThrow();
  });
});

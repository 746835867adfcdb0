// Inbound media end to end in the worker's pipelines, configured from the worker's own config
// schema: a customer's image goes through Meta's stand-in as a signed webhook, a receiver does
// what the API's route does (signature, job on cloud-api-inbound), the pipelines store the
// message, and the media-downloads consumer fetches the file with the session's declared token
// (Graph's media URL, then the bytes) into the configured store: a local directory, then an S3
// bucket (moto) under the tenant's prefix.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { baileysMediaFetcher, CloudApiChannel, encodeMediaDownload } from '@switchboard/channels';
import { type CloudApiEmulator, createCloudApiEmulator } from '@switchboard/cloud-api-emulator';
import { loadConfig } from '@switchboard/config';
import { createDb, type Db, ensureTenant, withTenant } from '@switchboard/db';
import {
  InboundPipeline,
  LocalMediaStorage,
  MediaDownloadWorker,
  type MediaStorage,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  type RealtimeEvent,
  realtimeStreamKey,
  resolveOutboundContent,
  tenantKeyPrefix,
} from '@switchboard/messaging';
import { createSecretResolver, type SecretResolver } from '@switchboard/secrets';
import { createLogger } from '@switchboard/telemetry';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
  uniquePrefix,
} from '@switchboard/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  customerImageMessage,
  type EncryptedMediaFile,
  encryptMediaFile,
  jpegOf,
  type MediaServer,
  removeEncryptedMedia,
  startMediaServer,
} from '../../../packages/channels/src/baileys/testing/media-server.ts';
import {
  type MemoryProbe,
  type MotoS3,
  memoryProbe,
  startMotoS3,
} from '../../../packages/messaging/src/media/testing.ts';
import { eventually } from '../../../packages/sessions/src/testing/worker-fleet.ts';
import { workerConfigSchema } from './config.ts';
import { type DeclaredSession, syncDeclaredSessions } from './declared-sessions.ts';
import { dispatchingMediaFetcher, pipelineMediaFromConfig } from './media.ts';
import { MessagePipelines } from './pipelines.ts';
import { type MetaReceiver, startMetaReceiver } from './testing/meta-receiver.ts';

const PHONE_NUMBER_ID = '106540352242933';
const TOKEN = 'EAAmedia-token';
const APP_SECRET = 'media-app-secret';

let database: TestDatabase;
let db: Db;
let redis: Redis;
let workerConnection: Redis;
let dir: string;
let emulator: CloudApiEmulator;
let receiver: MetaReceiver;
let queue: Queue;
let moto: MotoS3;
let secrets: SecretResolver;
let tenantId: string;
const slug = uniquePrefix('wmedia').slice(4);
const keyPrefix = tenantKeyPrefix(slug);
const declared: DeclaredSession[] = [
  {
    name: 'meta',
    channel: 'cloud-api',
    phoneNumberId: PHONE_NUMBER_ID,
    credentials: {
      accessToken: 'secret://env/META_ACCESS_TOKEN',
      appSecret: 'secret://env/META_APP_SECRET',
      verifyToken: 'secret://env/META_VERIFY_TOKEN',
    },
  },
];
const bucket = `sb-worker-media-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'worker-media' });
  db = createDb({ databaseUrl: database.appUrl, maxConnections: 4 });
  redis = new Redis(redisOptions());
  workerConnection = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  dir = await mkdtemp(join(tmpdir(), 'worker-media-'));
  secrets = createSecretResolver({ env: { META_ACCESS_TOKEN: TOKEN, S3_SECRET: 'testing' } });
  tenantId = await ensureTenant(db, { slug, displayName: 'Media Test' });
  await syncDeclaredSessions(db, tenantId, declared);
  moto = await startMotoS3();
  await moto.createBucket(bucket);
  queue = new Queue(QUEUE_NAMES.cloudApiInbound, { connection: redis, prefix: queuePrefix(keyPrefix) });
  receiver = await startMetaReceiver({ appSecret: APP_SECRET, tenantId, queue });
  emulator = await createCloudApiEmulator({
    accessToken: TOKEN,
    appSecret: APP_SECRET,
    webhookUrl: receiver.url,
    phoneNumbers: [{ id: PHONE_NUMBER_ID, displayPhoneNumber: '15551239999' }],
    statuses: { mode: 'manual' },
  });
});

afterAll(async () => {
  await queue?.close();
  await emulator?.close();
  await receiver?.close();
  await moto?.stop();
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  workerConnection?.disconnect();
  await db?.$disconnect();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The worker's config for this tenant from an environment, as server.ts loads it. */
async function config(env: Record<string, string>) {
  const { host, port } = redisOptions();
  return await loadConfig(workerConfigSchema, {
    env: {
      SWITCHBOARD_TENANT: slug,
      DATABASE_URL: database.appUrl,
      REDIS_MODE: 'standalone',
      REDIS_URL: `redis://${host}:${port}/0`,
      CLOUD_API_BASE_URL: emulator.url,
      ...env,
    },
    resolver: secrets,
  });
}

/** Pipelines of one worker process, with media wired from `env`; stopped by the caller. */
async function pipelines(env: Record<string, string>) {
  const session = await withTenant(db, tenantId, (tx) =>
    tx.session.findFirstOrThrow({ where: { name: 'meta' } }),
  );
  const p = new MessagePipelines({
    db,
    redis,
    workerConnection,
    tenantId,
    keyPrefix,
    logger: createLogger({ name: 'worker-media-test', level: 'silent' }),
    secrets,
    typingDelay: false,
    cloudApiSessions: async () => new Map([[PHONE_NUMBER_ID, session.id]]),
    media: pipelineMediaFromConfig(await config(env), {
      db,
      tenantId,
      declared: new Map(declared.map((d) => [d.name, d])),
      secrets,
    }),
  });
  await p.start();
  return p;
}

/** A customer sends `bytes` as an image; resolves with the stored message once it has its file. */
async function customerImage(bytes: Buffer) {
  const sent = await fetch(`${emulator.url}/_emulator/customer/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      from: '5511988880001',
      type: 'image',
      media: { mimeType: 'image/jpeg', dataBase64: bytes.toString('base64'), caption: 'a foto' },
    }),
  });
  expect(sent.status).toBe(200);
  const { id: wamid } = (await sent.json()) as { id: string };
  const findMessage = () =>
    withTenant(db, tenantId, (tx) => tx.message.findFirst({ where: { providerMessageId: wamid } }));
  let message: Awaited<ReturnType<typeof findMessage>> = null;
  await eventually(
    'the media stored',
    async () => {
      message = await findMessage();
      return Boolean(message?.mediaStorageKey);
    },
    20_000,
  );
  return message!;
}

async function realtimeUpdatesFor(messageId: string): Promise<RealtimeEvent[]> {
  const entries = await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+');
  return entries
    .map(([, fields]) => JSON.parse(fields[fields.indexOf(REALTIME_EVENT_FIELD) + 1]!) as RealtimeEvent)
    .filter((e) => e.type === 'message.updated' && e.data.messageId === messageId);
}

describe("the worker's media downloads", () => {
  it("stores a customer's image in the local directory, with its size and SHA-256, and announces it", async () => {
    const mediaDir = join(dir, 'local');
    const p = await pipelines({ MEDIA_STORAGE: 'local', MEDIA_DIR: mediaDir });
    try {
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(150_000)]);
      const message = await customerImage(jpeg);
      expect(message).toMatchObject({
        type: 'image',
        body: 'a foto',
        mediaMimeType: 'image/jpeg',
        mediaStorageKey: `media/${message.sessionId}/${message.id}`,
        mediaSizeBytes: BigInt(jpeg.length),
        mediaSha256: createHash('sha256').update(jpeg).digest('hex'),
      });
      expect((await readFile(join(mediaDir, message.mediaStorageKey!))).equals(jpeg)).toBe(true);
      // The event carries the message, its file now available (described, never its bytes).
      expect((await realtimeUpdatesFor(message.id)).map((e) => e.data)).toEqual([
        {
          messageId: message.id,
          conversationId: message.conversationId,
          status: message.status,
          message: {
            id: message.id,
            conversationId: message.conversationId,
            direction: 'inbound',
            status: message.status,
            failureReason: null,
            type: 'image',
            body: 'a foto',
            reaction: null,
            media: { mimeType: 'image/jpeg', fileName: null, sizeBytes: jpeg.length, available: true },
            replyToMessageId: null,
            createdAt: message.createdAt.toISOString(),
          },
        },
      ]);
    } finally {
      await p.stop();
    }
  });

  it("stores it in the S3 bucket under the tenant's keyPrefix when MEDIA_STORAGE=s3", async () => {
    const p = await pipelines({
      MEDIA_STORAGE: 's3',
      S3_BUCKET: bucket,
      S3_ENDPOINT: moto.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      // Resolved through the secret resolver, as a tenant's Secret would be.
      S3_SECRET_ACCESS_KEY: 'secret://env/S3_SECRET',
    });
    try {
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1]), randomBytes(80_000)]);
      const message = await customerImage(jpeg);
      const object = await moto.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: `${slug}/${message.mediaStorageKey}` }),
      );
      expect(object.ContentType).toBe('image/jpeg');
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(jpeg)).toBe(true);
      expect(message.mediaSha256).toBe(createHash('sha256').update(jpeg).digest('hex'));
    } finally {
      await p.stop();
    }
  });

  it('dispatches references by provider, and refuses Cloud API downloads for sessions without declared credentials', async () => {
    const cfg = await config({ MEDIA_STORAGE: 'local', MEDIA_DIR: join(dir, 'dispatch') });
    const declaredByName = new Map(declared.map((d) => [d.name, d]));
    const media = pipelineMediaFromConfig(cfg, { db, tenantId, declared: declaredByName, secrets });
    const meta = await withTenant(db, tenantId, (tx) =>
      tx.session.findFirstOrThrow({ where: { name: 'meta' } }),
    );
    const context = { sessionId: meta.id, messageId: meta.id };
    // A Baileys reference goes to the Baileys downloader (which refuses this one as malformed).
    await expect(
      media.fetchMedia({ provider: 'baileys', data: 'not a reference' }, AbortSignal.timeout(5_000), context),
    ).rejects.toMatchObject({
      code: 'MEDIA_DOWNLOAD_FAILED',
      unrecoverable: true,
      message: expect.stringMatching(/malformed/),
    });
    // A sender's media location aimed at an internal service: refused before any connection.
    const connections: number[] = [];
    const internal = createServer((_req, res) => res.end('internal'));
    internal.on('connection', () => connections.push(1));
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    const internalHost = `127.0.0.1:${(internal.address() as AddressInfo).port}`;
    try {
      for (const where of [
        { url: `http://${internalHost}/x` },
        { directPath: `@${internalHost}/x` },
        { directPath: `//${internalHost}/x` },
      ]) {
        const data = encodeMediaDownload(
          { remoteJid: '5511977770000@s.whatsapp.net', id: 'SSRF', fromMe: false },
          'imageMessage',
          { ...where, mediaKey: randomBytes(32), fileSha256: randomBytes(32) },
        );
        await expect(
          media.fetchMedia({ provider: 'baileys', data }, AbortSignal.timeout(5_000), context),
        ).rejects.toMatchObject({ code: 'MEDIA_DOWNLOAD_FAILED', message: expect.stringMatching(/refused/) });
      }
      expect(connections).toEqual([]);
    } finally {
      internal.closeAllConnections();
      await new Promise<void>((resolve) => internal.close(() => resolve()));
    }
    // A Cloud API media id of an undeclared session: no token to use, failed for good.
    const other = await withTenant(db, tenantId, (tx) =>
      tx.session.create({ data: { tenantId, name: 'web', channel: 'baileys' } }),
    );
    await expect(
      media.fetchMedia({ provider: 'cloud-api', data: '123' }, AbortSignal.timeout(5_000), {
        sessionId: other.id,
        messageId: other.id,
      }),
    ).rejects.toMatchObject({
      name: 'MediaRejectedError',
      message: expect.stringMatching(/not a declared Cloud API session/),
    });
    expect(media.maxBytes).toBe(64 * 1024 * 1024);
    expect(
      pipelineMediaFromConfig(await config({ MEDIA_STORAGE: 'none' }), {
        db,
        tenantId,
        declared: declaredByName,
        secrets,
      }).storage,
    ).toBeUndefined();
  });
});

describe('outbound media and templates, from the stored row to what Meta receives', () => {
  it('sends a stored document (uploaded to Meta, then by id) and a template row with Meta-shaped components', async () => {
    const storage = new LocalMediaStorage(join(dir, 'outbound'));
    const pdf = Buffer.from('%PDF-1.7 the signed contract');
    await storage.put('media/s/outbound-doc', pdf, 'application/pdf');
    const channel = new CloudApiChannel({
      sessionId: 'outbound-media',
      phoneNumberId: PHONE_NUMBER_ID,
      accessToken: TOKEN,
      baseUrl: emulator.url,
      epoch: 1n,
      readFence: async () => 1n,
    });
    await channel.connect();
    const to = '5511988880002';
    const columns = {
      body: null,
      reaction: null,
      replyToProviderMessageId: null,
      template: null,
      mediaStorageKey: null,
      mediaMimeType: null,
      mediaFileName: null,
    };
    const document = await resolveOutboundContent(
      {
        ...columns,
        type: 'document',
        body: 'please sign',
        mediaStorageKey: 'media/s/outbound-doc',
        mediaMimeType: 'application/pdf',
        mediaFileName: 'contract.pdf',
      },
      storage,
    );
    await channel.send({ to, content: document! });
    const components = [
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'Ana' },
          { type: 'currency', currency: { fallback_value: 'R$ 10,00', code: 'BRL', amount_1000: 10_000 } },
        ],
      },
    ];
    const template = await resolveOutboundContent(
      { ...columns, type: 'template', template: { name: 'order_update', language: 'pt_BR', components } },
      storage,
    );
    await channel.send({ to, content: template! });

    const { messages } = (await (await fetch(`${emulator.url}/_emulator/sent?to=${to}`)).json()) as {
      messages: { request: Record<string, { id?: string } & Record<string, unknown>> }[];
    };
    expect(messages).toHaveLength(2);
    expect(messages[0]!.request.document).toMatchObject({ caption: 'please sign', filename: 'contract.pdf' });
    const uploaded = (await (
      await fetch(`${emulator.url}/_emulator/media/${messages[0]!.request.document!.id}`)
    ).json()) as {
      dataBase64: string;
      mimeType: string;
    };
    expect(uploaded.mimeType).toBe('application/pdf');
    expect(Buffer.from(uploaded.dataBase64, 'base64').equals(pdf)).toBe(true);
    expect(messages[1]!.request.template).toEqual({
      name: 'order_update',
      language: { code: 'pt_BR' },
      components,
    });
  });
});

describe('a 48 MiB WhatsApp Web file streams through the worker (memory)', () => {
  const SIZE = 48 * 1024 * 1024;
  let server: MediaServer;
  let big: EncryptedMediaFile;
  let small: EncryptedMediaFile;
  let tampered: string;
  let inbound: InboundPipeline;
  let webSessionId: string;
  let mediaDir: string;

  beforeAll(async () => {
    server = await startMediaServer();
    big = await encryptMediaFile(jpegOf(SIZE));
    small = await encryptMediaFile(jpegOf(256 * 1024));
    // The same ciphertext with one byte changed in the middle: it decrypts, to the wrong bytes.
    tampered = join(dir, 'tampered.enc');
    await copyFile(big.encFilePath, tampered);
    const handle = await open(tampered, 'r+');
    try {
      const at = Math.floor(SIZE / 2);
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, at);
      await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, at);
    } finally {
      await handle.close();
    }
    inbound = new InboundPipeline({ db, redis, tenantId, keyPrefix });
    webSessionId = (
      await withTenant(db, tenantId, (tx) =>
        tx.session.create({ data: { tenantId, name: 'web-big', channel: 'baileys' } }),
      )
    ).id;
    mediaDir = join(dir, 'big');
  }, 120_000);

  afterAll(async () => {
    await inbound?.close();
    await server?.close();
    if (big) await removeEncryptedMedia(big);
    if (small) await removeEncryptedMedia(small);
  });

  /** A customer's image message stored by the inbound pipeline, its file at `encFilePath`. */
  async function received(file: EncryptedMediaFile, encFilePath: string): Promise<string> {
    const path = server.serve(encFilePath);
    const reference = server.reference(path, file);
    const result = await inbound.handleMessage(
      customerImageMessage({ sessionId: webSessionId, file, reference, idPrefix: 'BIG' }),
    );
    if (result.outcome !== 'created') throw new Error(`expected a new message, got ${result.outcome}`);
    return result.messageId;
  }

  /**
   * The worker's media consumer as worker.ts wires it, downloading from the stand-in, into a
   * local store that takes a memory sample (after a full GC) each time another 8 MiB of the file
   * has passed into it: samples tied to progress, not to time, so a fast or a slow machine takes
   * the same six.
   */
  function downloader(probe?: MemoryProbe): MediaDownloadWorker {
    const step = 8 * 1024 * 1024;
    async function* sampled(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      let passed = 0;
      let next = step;
      for await (const chunk of source) {
        passed += chunk.byteLength;
        if (probe && passed >= next) {
          probe.sample();
          next += step;
        }
        yield chunk;
      }
    }
    const local = new LocalMediaStorage(mediaDir);
    const storage: MediaStorage = {
      put: (key, data, type) => local.put(key, data instanceof Uint8Array ? data : sampled(data), type),
      get: (key) => local.get(key),
      open: (key) => local.open(key),
      delete: (key) => local.delete(key),
    };
    return new MediaDownloadWorker({
      db,
      connection: workerConnection,
      keyPrefix,
      storage,
      maxBytes: 64 * 1024 * 1024,
      publishRealtime: false,
      fetchMedia: dispatchingMediaFetcher({
        baileys: baileysMediaFetcher({ origin: server.origin }),
        cloudApi: async () => {
          throw new Error('no Cloud API media here');
        },
      }),
    });
  }

  const job = (messageId: string) =>
    ({ id: `media-${messageId}`, data: { tenantId, sessionId: webSessionId, messageId } }) as never;

  it('decrypts, checks and stores it while holding well under the file in memory', async () => {
    // Warm up on a small file: code loaded and compiled before the baseline.
    expect(await downloader().process(job(await received(small, small.encFilePath)))).toBe('stored');
    const messageId = await received(big, big.encFilePath);

    const probe = memoryProbe();
    const outcome = await downloader(probe).process(job(messageId));
    const memory = probe.result;
    expect(outcome).toBe('stored');
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: messageId } }),
    );
    expect(message.mediaSizeBytes).toBe(BigInt(SIZE));
    expect(message.mediaSha256).toBe(big.fileSha256.toString('hex'));
    const stored = createHash('sha256');
    for await (const chunk of createReadStream(join(mediaDir, message.mediaStorageKey!)))
      stored.update(chunk);
    expect(stored.digest()).toEqual(big.fileSha256);
    // Sampled at 8, 16, ... 48 MiB into the store (a GC before each): a whole-file buffer would
    // show up to 48 MiB (96 with its concatenated copy), and would reach the store as one piece,
    // giving no samples; the stream holds a few chunks.
    expect(memory.samples).toBe(6);
    const growth = memory.peakLive - memory.baselineLive;
    expect(growth, `peak growth ${(growth / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(24 * 1024 * 1024);
  }, 120_000);

  it('refuses the tampered file after streaming it, leaving no object and no temp file', async () => {
    const messageId = await received(big, tampered);
    await expect(downloader().process(job(messageId))).rejects.toMatchObject({
      name: 'MediaRejectedError',
      message: expect.stringMatching(/fileSha256|tampered/),
    });
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: messageId } }),
    );
    expect(message.mediaStorageKey).toBeNull();
    const left = await readdir(mediaDir, { recursive: true });
    expect(left.filter((name) => name.includes(messageId))).toEqual([]);
  }, 120_000);
});

describe('a 64 MiB stored file streams from storage into the Cloud API upload (memory)', () => {
  const SIZE = 64 * 1024 * 1024;
  const STEP = 8 * 1024 * 1024;

  it('sends it byte-identical while holding well under the file in memory', async () => {
    // The stored upload: a PDF head, then random bytes, written to the store as a stream.
    const storage = new LocalMediaStorage(join(dir, 'outbound-big'));
    const expected = createHash('sha256');
    await storage.put(
      'media/s/outbound-big',
      (async function* () {
        const head = Buffer.from('%PDF-1.7\n');
        expected.update(head);
        yield head;
        for (let left = SIZE - head.length; left > 0; left -= 1024 * 1024) {
          const chunk = randomBytes(Math.min(left, 1024 * 1024));
          expected.update(chunk);
          yield chunk;
        }
      })(),
      'application/pdf',
    );

    // Graph's stand-in on loopback: the phone number lookup, a media upload read as a stream (its
    // multipart parsed part by part, the file hashed as it arrives; a memory sample after every
    // 8 MiB received, so the samples follow progress, not time), and the send.
    let probe: MemoryProbe | undefined;
    const upload = { size: 0, sha256: '', type: '', fileName: '', samples: 0 };
    const graph = createServer(async (req, res) => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'GET')
        return json(200, { id: PHONE_NUMBER_ID, display_phone_number: '+55 11 4000-0000' });
      if (req.url?.endsWith('/messages')) {
        for await (const _ of req);
        return json(200, {
          messaging_product: 'whatsapp',
          contacts: [{ input: '5511988880003', wa_id: '5511988880003' }],
          messages: [{ id: 'wamid.outbound-big' }],
        });
      }
      const boundary = /boundary=(.+)$/.exec(req.headers['content-type'] ?? '')?.[1];
      if (!boundary) return json(400, { error: { code: 100, message: 'not multipart' } });
      const end = Buffer.from(`\r\n--${boundary}--\r\n`);
      const hash = createHash('sha256');
      let head: Buffer | undefined = Buffer.alloc(0);
      let held = Buffer.alloc(0);
      let received = 0;
      let next = STEP;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (probe && received >= next) {
          probe.sample();
          next += STEP;
        }
        let body = chunk;
        if (head) {
          head = Buffer.concat([head, chunk]);
          const at = head.indexOf('name="file"');
          const start = at < 0 ? -1 : head.indexOf('\r\n\r\n', at);
          if (start < 0) continue;
          const headers = head.subarray(at, start).toString();
          upload.fileName = /filename="([^"]*)"/.exec(headers)?.[1] ?? '';
          upload.type = /Content-Type: (.+)/.exec(headers)?.[1] ?? '';
          body = head.subarray(start + 4);
          head = undefined;
        }
        // The file's bytes, but the closing boundary (held back until the body ends).
        held = Buffer.concat([held, body]);
        if (held.length > end.length) {
          const file = held.subarray(0, held.length - end.length);
          hash.update(file);
          upload.size += file.length;
          held = Buffer.from(held.subarray(held.length - end.length));
        }
      }
      if (!held.equals(end)) return json(400, { error: { code: 100, message: 'no closing boundary' } });
      upload.sha256 = hash.digest('hex');
      upload.samples = probe?.result.samples ?? 0;
      return json(200, { id: '4490709327384033' });
    });
    await new Promise<void>((resolve) => graph.listen(0, '127.0.0.1', resolve));
    try {
      const channel = new CloudApiChannel({
        sessionId: 'outbound-big',
        phoneNumberId: PHONE_NUMBER_ID,
        accessToken: TOKEN,
        baseUrl: `http://127.0.0.1:${(graph.address() as AddressInfo).port}`,
        epoch: 1n,
        readFence: async () => 1n,
      });
      await channel.connect();
      const row = {
        type: 'document' as const,
        body: null,
        reaction: null,
        replyToProviderMessageId: null,
        template: null,
        mediaStorageKey: 'media/s/outbound-big',
        mediaMimeType: 'application/pdf',
        mediaFileName: 'big.pdf',
      };
      // Warm-up on the same path (code loaded before the baseline): a small file.
      await storage.put('media/s/outbound-small', Buffer.from('%PDF-1.7 small'), 'application/pdf');
      await channel.send({
        to: '5511988880003',
        content: (await resolveOutboundContent(
          { ...row, mediaStorageKey: 'media/s/outbound-small' },
          storage,
        ))!,
      });
      Object.assign(upload, { size: 0, sha256: '', type: '', fileName: '', samples: 0 });
      probe = memoryProbe();
      const content = await resolveOutboundContent(row, storage);
      const sent = await channel.send({ to: '5511988880003', content: content! });
      expect(sent.providerMessageId).toBe('wamid.outbound-big');
      expect(upload).toMatchObject({
        size: SIZE,
        sha256: expected.digest('hex'),
        type: 'application/pdf',
        fileName: 'big.pdf',
      });
      // Sampled at 8, 16, ... 64 MiB received (a GC before each): the file read whole would hold
      // 64 MiB from the first sample on; the stream holds a few chunks.
      expect(upload.samples).toBe(SIZE / STEP);
      const growth = probe.result.peakLive - probe.result.baselineLive;
      expect(growth, `peak growth ${(growth / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(24 * 1024 * 1024);
    } finally {
      await new Promise((resolve) => graph.close(resolve));
    }
  }, 120_000);
});

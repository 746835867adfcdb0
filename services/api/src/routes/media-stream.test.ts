// A 64 MiB file through the API's media routes on a real socket: the upload streams from the
// request into storage and the download from storage into the response, each holding a few chunks
// (memory sampled after a full GC at every 8 MiB of progress, not at times); the bytes come back
// identical; an upload past the limit, cut short, or dropped by its client answers 4xx (or nothing)
// and leaves no object and no temp file.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { withTenant } from '@switchboard/db';
import { LocalMediaStorage, type MediaStorage } from '@switchboard/messaging/producer';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import {
  bearer,
  db,
  eventually,
  mediaDir,
  PASSWORD,
  redis,
  SCRYPT,
  seeded,
  setupApi,
  slugA,
} from '../testing/api-fixture.ts';

setupApi();

const SIZE = 64 * 1024 * 1024;
const STEP = 8 * 1024 * 1024;
const CHUNK = 256 * 1024;

let big: FastifyInstance;
let port: number;
let token: string;
let root: string;
/** What a transfer held at most: `heapUsed + arrayBuffers` right after a full GC, per sample. */
interface MemoryProbe {
  sample(): void;
  readonly result: { samples: number; baselineLive: number; peakLive: number };
}

/** A probe whose baseline is taken now (the API may not import messaging's test helpers). */
function memoryProbe(): MemoryProbe {
  setFlagsFromString('--expose-gc');
  // Dead buffers are otherwise freed by a background sweeper after the GC returns.
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  const gc = runInNewContext('gc') as () => void;
  const live = () => {
    gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  const first = live();
  const result = { samples: 0, baselineLive: first, peakLive: first };
  return {
    result,
    sample() {
      result.samples += 1;
      result.peakLive = Math.max(result.peakLive, live());
    },
  };
}

/** Set while a transfer is measured: sampled at every STEP bytes passed into or out of storage. */
let probe: MemoryProbe | undefined;

/** `source` passed on, a memory sample taken each time another STEP bytes went through. */
async function* sampled(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let passed = 0;
  let next = STEP;
  for await (const chunk of source) {
    passed += chunk.byteLength;
    if (probe && passed >= next) {
      probe.sample();
      next += STEP;
    }
    yield chunk;
  }
}

beforeAll(async () => {
  root = join(mediaDir, 'big');
  const local = new LocalMediaStorage(root);
  const storage: MediaStorage = {
    put: (key, data, type) => local.put(key, data instanceof Uint8Array ? data : sampled(data), type),
    get: (key) => local.get(key),
    open: (key) => local.open(key),
    delete: (key) => local.delete(key),
  };
  const jwtSigningKey = randomBytes(32).toString('hex');
  big = await buildApp({
    db,
    redis,
    tenant: { slug: slugA, displayName: 'Tenant A' },
    jwtSigningKey,
    scrypt: SCRYPT,
    rateLimitPerMinute: 100_000,
    mediaStorage: storage,
    mediaMaxBytes: SIZE,
    inboxDir: null,
  });
  port = Number(new URL(await big.listen({ port: 0, host: '127.0.0.1' })).port);
  const login = await big.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { tenant: slugA, email: seeded.a.users.agent.email, password: PASSWORD },
  });
  expect(login.statusCode).toBe(200);
  token = login.json().accessToken;
});

afterAll(async () => {
  await big?.close();
});

/** A PDF of `size` bytes as a stream of CHUNK pieces, hashed as it is made. */
function pdfOf(size: number): { chunks: AsyncGenerator<Buffer>; sha256: () => string } {
  const hash = createHash('sha256');
  async function* chunks() {
    const head = Buffer.from('%PDF-1.7\n');
    hash.update(head);
    yield head;
    for (let left = size - head.length; left > 0; left -= CHUNK) {
      const chunk = randomBytes(Math.min(left, CHUNK));
      hash.update(chunk);
      yield chunk;
    }
  }
  let digest: string | undefined;
  return { chunks: chunks(), sha256: () => (digest ??= hash.digest('hex')) };
}

/**
 * POSTs a multipart upload on a socket of its own, the file streamed from `file`; `cut` stops
 * after that many file bytes, either ending the body there (`end`) or destroying the socket.
 */
function upload(
  file: AsyncIterable<Buffer>,
  cut?: { after: number; how: 'end' | 'destroy' },
): Promise<
  | {
      status: number;
      body: { id?: string; media?: { sizeBytes: number; sha256: string } } & Record<string, unknown>;
    }
  | undefined
> {
  const boundary = `b${randomUUID()}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${seeded.a.conversationId}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
  );
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/messages/media',
      headers: {
        ...bearer(token),
        'idempotency-key': randomUUID(),
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
    });
    req.on('response', async (res) => {
      let text = '';
      for await (const chunk of res) text += chunk;
      resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
    });
    req.on('error', (error) => (cut?.how === 'destroy' ? resolve(undefined) : reject(error)));
    void (async () => {
      const write = async (chunk: Buffer) => {
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      };
      await write(head);
      let sent = 0;
      for await (const chunk of file) {
        if (req.destroyed) return;
        if (cut && sent >= cut.after) {
          if (cut.how === 'destroy') req.destroy();
          else req.end();
          return;
        }
        await write(chunk);
        sent += chunk.length;
      }
      req.end(`\r\n--${boundary}--\r\n`);
    })().catch(reject);
  });
}

/** Objects and temp files under the big store's outbound prefix of tenant A. */
async function storedFiles(): Promise<string[]> {
  return await readdir(join(root, 'tenants', seeded.a.tenantId, 'outbound')).catch(() => []);
}

describe('a 64 MiB file through the media routes (memory)', () => {
  it('uploads and downloads it byte-identical, each holding well under the file in memory', async () => {
    // Warm-up: both routes' code loaded before the baseline.
    const warm = pdfOf(64 * 1024);
    expect((await upload(warm.chunks))?.status).toBe(201);

    const file = pdfOf(SIZE);
    probe = memoryProbe();
    const sent = await upload(file.chunks);
    const up = probe.result;
    probe = undefined;
    expect(sent?.status, JSON.stringify(sent?.body)).toBe(201);
    expect(sent!.body.media).toMatchObject({ sizeBytes: SIZE, sha256: file.sha256() });
    // Sampled at 8, 16, ... 64 MiB into the store: a buffered body would hold the file from the
    // first sample on (and reach the store as one piece, giving no samples).
    expect(up.samples).toBe(SIZE / STEP);
    expect(up.peakLive - up.baselineLive, 'upload growth').toBeLessThan(24 * 1024 * 1024);

    probe = memoryProbe();
    const hash = createHash('sha256');
    const download = await new Promise<{ status: number; size: number; type: string }>((resolve, reject) => {
      request(
        { host: '127.0.0.1', port, path: `/v1/messages/${sent!.body.id}/media`, headers: bearer(token) },
        async (res) => {
          let size = 0;
          for await (const chunk of sampled(res)) {
            hash.update(chunk);
            size += chunk.byteLength;
          }
          resolve({ status: res.statusCode ?? 0, size, type: String(res.headers['content-type']) });
        },
      )
        .on('error', reject)
        .end();
    });
    const down = probe.result;
    probe = undefined;
    expect(download).toEqual({ status: 200, size: SIZE, type: 'application/pdf' });
    expect(hash.digest('hex')).toBe(file.sha256());
    expect(down.samples).toBe(SIZE / STEP);
    expect(down.peakLive - down.baselineLive, 'download growth').toBeLessThan(24 * 1024 * 1024);
  }, 180_000);

  it('an upload past the limit is a 413, one cut short a 400, one dropped by its client nothing: none leaves a file', async () => {
    const named = async () =>
      (
        await withTenant(db, seeded.a.tenantId, (tx) =>
          tx.message.findMany({
            where: { mediaStorageKey: { startsWith: `tenants/${seeded.a.tenantId}/outbound/` } },
            select: { mediaStorageKey: true },
          }),
        )
      )
        .map((r) => r.mediaStorageKey!.split('/').pop()!)
        .sort();
    const before = await named();
    expect((await storedFiles()).sort()).toEqual(before);

    const over = await upload(pdfOf(SIZE + 1).chunks);
    expect(over?.status).toBe(413);
    expect(over?.body).toMatchObject({ error: { code: 'payload_too_large' } });

    // The body ends in the middle of the file, 16 MiB in (no closing boundary).
    const short = await upload(pdfOf(SIZE).chunks, { after: 16 * 1024 * 1024, how: 'end' });
    expect(short?.status).toBe(400);
    expect(short?.body).toMatchObject({ error: { code: 'validation_failed' } });

    // The client goes away 16 MiB in: no answer; the temp file is removed once the request fails.
    expect(await upload(pdfOf(SIZE).chunks, { after: 16 * 1024 * 1024, how: 'destroy' })).toBeUndefined();
    await eventually(
      'the dropped upload left nothing',
      async () => (await storedFiles()).length === before.length,
      30_000,
    );

    expect(await named()).toEqual(before);
    expect((await storedFiles()).sort()).toEqual(before);
  }, 180_000);
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3MediaStorage } from './s3-storage.ts';
import { mediaStorageFromSettings, mediaStorageSettingsSchema } from './settings.ts';
import { LocalMediaStorage } from './storage.ts';
import { type MotoS3, startMotoS3 } from './testing.ts';

let moto: MotoS3;
const bucket = `sb-media-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  moto = await startMotoS3();
  await moto.createBucket(bucket);
});
afterAll(async () => {
  await moto?.stop();
});

function s3Env(extra: Record<string, string> = {}) {
  return mediaStorageSettingsSchema.parse({
    MEDIA_STORAGE: 's3',
    S3_BUCKET: bucket,
    S3_REGION: moto.region,
    S3_ENDPOINT: moto.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: moto.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
    ...extra,
  });
}

describe('S3MediaStorage against moto', () => {
  it('stores bytes with their content type and reads them back', async () => {
    const storage = mediaStorageFromSettings(s3Env(), { tenant: 'acme' }) as S3MediaStorage;
    expect(storage).toBeInstanceOf(S3MediaStorage);
    const data = randomBytes(300_000);
    await storage.put('media/s1/m1', data, 'image/jpeg');
    expect(Buffer.from((await storage.get('media/s1/m1'))!)).toEqual(data);
    const head = await moto.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'acme/media/s1/m1' }));
    expect(head.ContentType).toBe('image/jpeg');
    expect(head.ContentLength).toBe(data.length);
    // A put replaces what was there.
    await storage.put('media/s1/m1', Buffer.from('second'), 'text/plain');
    expect(Buffer.from((await storage.get('media/s1/m1'))!).toString()).toBe('second');
    storage.close();
  });

  it('answers undefined for a missing key, and deletes idempotently', async () => {
    const storage = mediaStorageFromSettings(s3Env(), { tenant: 'acme' })!;
    expect(await storage.get('media/s1/never-stored')).toBeUndefined();
    await storage.put('media/s1/gone', Buffer.from('x'), 'text/plain');
    await storage.delete('media/s1/gone');
    expect(await storage.get('media/s1/gone')).toBeUndefined();
    await storage.delete('media/s1/gone');
  });

  it('keeps each tenant under its own prefix of a shared bucket', async () => {
    const acme = mediaStorageFromSettings(s3Env(), { tenant: 'acme-t' })!;
    const beta = mediaStorageFromSettings(s3Env(), { tenant: 'beta-t' })!;
    await acme.put('media/s/same', Buffer.from('acme'), 'text/plain');
    await beta.put('media/s/same', Buffer.from('beta'), 'text/plain');
    expect(Buffer.from((await acme.get('media/s/same'))!).toString()).toBe('acme');
    expect(Buffer.from((await beta.get('media/s/same'))!).toString()).toBe('beta');
    await beta.put('media/s/only-beta', Buffer.from('b'), 'text/plain');
    expect(await acme.get('media/s/only-beta')).toBeUndefined();
    const listed = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'beta-t/' }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([
      'beta-t/media/s/only-beta',
      'beta-t/media/s/same',
    ]);
  });

  it('refuses keys that are not plain relative paths, and throws (not undefined) for a missing bucket', async () => {
    const storage = mediaStorageFromSettings(s3Env(), { tenant: 'acme' })!;
    await expect(storage.put('../escape', Buffer.from('x'), 'text/plain')).rejects.toThrow(
      /not a relative path/,
    );
    await expect(storage.get('a//b')).rejects.toThrow(/not a relative path/);
    const wrong = mediaStorageFromSettings(s3Env({ S3_BUCKET: 'no-such-bucket-here' }), { tenant: 'acme' })!;
    await expect(wrong.get('media/s/m')).rejects.toThrow();
    expect(() => new S3MediaStorage({ bucket, region: 'us-east-1', prefix: 'acme' })).toThrow(
      /must end with/,
    );
  });
});

describe('mediaStorageSettingsSchema', () => {
  it('defaults to a local directory; none means no storage', async () => {
    expect(
      mediaStorageFromSettings(mediaStorageSettingsSchema.parse({ MEDIA_STORAGE: 'none' }), { tenant: 'a' }),
    ).toBeUndefined();
    const settings = mediaStorageSettingsSchema.parse({});
    expect(settings).toMatchObject({
      MEDIA_STORAGE: 'local',
      MEDIA_DIR: '/var/lib/switchboard/media',
      S3_FORCE_PATH_STYLE: false,
    });
    const root = await mkdtemp(join(tmpdir(), 'sb-media-settings-'));
    try {
      const storage = mediaStorageFromSettings(mediaStorageSettingsSchema.parse({ MEDIA_DIR: root }), {
        tenant: 'acme',
      });
      expect(storage).toBeInstanceOf(LocalMediaStorage);
      if (!storage) throw new Error('expected a storage');
      await storage.put('media/s/m', Buffer.from('local'), 'text/plain');
      expect(Buffer.from((await new LocalMediaStorage(root).get('media/s/m'))!).toString()).toBe('local');
      await storage.delete('media/s/m');
      expect(await storage.get('media/s/m')).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('names the variable that is wrong', () => {
    const problems = (input: Record<string, string>) => {
      const result = mediaStorageSettingsSchema.safeParse(input);
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems({ MEDIA_STORAGE: 's3' })).toEqual(['S3_BUCKET: is required when MEDIA_STORAGE=s3']);
    expect(problems({ MEDIA_STORAGE: 'gcs' })).toEqual(['MEDIA_STORAGE: expected local, s3 or none']);
    expect(problems({ MEDIA_STORAGE: 's3', S3_BUCKET: 'b-1', S3_ACCESS_KEY_ID: 'id' })).toEqual([
      'S3_SECRET_ACCESS_KEY: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together or not at all',
    ]);
    expect(problems({ S3_FORCE_PATH_STYLE: 'yes' })).toEqual([
      'S3_FORCE_PATH_STYLE: expected true, false, 1 or 0',
    ]);
    expect(problems({ S3_BUCKET: 'Bad_Bucket' })[0]).toMatch(/^S3_BUCKET: expected an S3 bucket name/);
    expect(problems({ S3_ENDPOINT: 'ftp://x' })).toEqual([
      'S3_ENDPOINT: expected an http:// or https:// URL',
    ]);
    expect(mediaStorageSettingsSchema.parse({ S3_FORCE_PATH_STYLE: '1' }).S3_FORCE_PATH_STYLE).toBe(true);
  });
});

/** `data` in 64 KiB chunks, then `failure` thrown after the last one when given (a failed hash check). */
async function* chunked(data: Buffer, failure?: Error): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += 65_536) yield data.subarray(i, i + 65_536);
  if (failure) throw failure;
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('streamed puts, on both adapters', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sb-media-stream-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const adapters = {
    local: () => new LocalMediaStorage(root),
    s3: () => mediaStorageFromSettings(s3Env(), { tenant: 'stream' })!,
  };

  for (const [name, make] of Object.entries(adapters)) {
    it(`${name}: stores a 12 MiB stream (three S3 parts) and opens it as a stream`, async () => {
      const storage = make();
      const data = randomBytes(12 * 1024 * 1024);
      await storage.put('media/s/streamed', chunked(data), 'video/mp4');
      const opened = await storage.open('media/s/streamed');
      expect(opened).toBeDefined();
      expect((await readAll(opened!)).equals(data)).toBe(true);
      expect(await storage.open('media/s/never-stored')).toBeUndefined();
      if (name === 's3') {
        const head = await moto.client.send(
          new HeadObjectCommand({ Bucket: bucket, Key: 'stream/media/s/streamed' }),
        );
        expect(head.ContentType).toBe('video/mp4');
        expect(head.ContentLength).toBe(data.length);
      }
    });

    it(`${name}: a stream that fails at its end leaves no object, and an earlier one untouched`, async () => {
      const storage = make();
      for (const size of [1024, 12 * 1024 * 1024]) {
        const key = `media/s/failed-${size}`;
        const failure = new Error('hash mismatch');
        await expect(storage.put(key, chunked(randomBytes(size), failure), 'image/jpeg')).rejects.toThrow(
          'hash mismatch',
        );
        expect(await storage.get(key)).toBeUndefined();
        await storage.put(key, Buffer.from('kept'), 'text/plain');
        await expect(storage.put(key, chunked(randomBytes(size), failure), 'image/jpeg')).rejects.toThrow(
          'hash mismatch',
        );
        expect(Buffer.from((await storage.get(key))!).toString()).toBe('kept');
      }
      if (name === 's3') {
        // The multipart upload was aborted, not left behind (its parts would be billed forever).
        const uploads = await moto.client.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'stream/' }),
        );
        expect(uploads.Uploads ?? []).toEqual([]);
      } else {
        const names = await readdir(root, { recursive: true });
        expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
      }
    });
  }
});

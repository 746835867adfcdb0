import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertStorageKey, type MediaSource, type MediaStorage } from './storage.ts';

/**
 * A streamed upload's part size and parts in flight: S3's minimum part (5 MiB), two at a time, so
 * one upload holds about 15 MiB (two parts sending, one filling) whatever the file's size.
 */
const PART_BYTES = 5 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

/** Options for {@link S3MediaStorage}. */
export interface S3MediaStorageOptions {
  bucket: string;
  region: string;
  /** An S3-compatible endpoint (MinIO, Ceph, moto in tests); AWS's own when unset. */
  endpoint?: string;
  /** `bucket` in the path instead of the host name: most S3-compatible stores need it. */
  forcePathStyle?: boolean;
  /** Static credentials; the AWS SDK's default chain (env, web identity, instance role...) when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Put before every key, e.g. `acme/`: one bucket can hold several tenants' media, each under its
   * own prefix (which an IAM policy can then scope to). Must be empty or end with '/'.
   */
  prefix?: string;
  /** A client to use instead of one made from the options above (tests, custom middleware). */
  client?: S3Client;
}

/**
 * Media in an S3 bucket: one object per key, under the tenant's prefix, with its content type.
 * Bytes already in memory go in one PutObject; a stream goes through lib-storage's `Upload`: one
 * PutObject when it ends within the first part, a multipart upload otherwise, completed only after
 * the stream ended without an error (an error aborts the upload, so no object appears).
 */
export class S3MediaStorage implements MediaStorage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly ownsClient: boolean;

  /** Creates the client; nothing is contacted until the first put or get. */
  constructor(options: S3MediaStorageOptions) {
    const prefix = options.prefix ?? '';
    if (prefix !== '') assertStorageKey(prefix.replace(/\/$/, ''));
    if (prefix !== '' && !prefix.endsWith('/'))
      throw new Error(`S3 key prefix ${JSON.stringify(prefix)} must end with '/'`);
    this.prefix = prefix;
    this.bucket = options.bucket;
    this.ownsClient = options.client === undefined;
    const config: S3ClientConfig = {
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.forcePathStyle ? { forcePathStyle: true } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    this.client = options.client ?? new S3Client(config);
  }

  private objectKey(key: string): string {
    assertStorageKey(key);
    return `${this.prefix}${key}`;
  }

  async put(key: string, data: MediaSource, contentType: string): Promise<void> {
    const objectKey = this.objectKey(key);
    if (data instanceof Uint8Array) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Body: data,
          ContentType: contentType,
          ContentLength: data.byteLength,
        }),
      );
      return;
    }
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: objectKey,
        Body: Readable.from(data, { objectMode: false }),
        ContentType: contentType,
      },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      if (!object.Body) return undefined;
      return await object.Body.transformToByteArray();
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async open(key: string): Promise<Readable | undefined> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      if (!object.Body) return undefined;
      // In Node the SDK's body is the HTTP response itself (an IncomingMessage, a Readable).
      return object.Body instanceof Readable
        ? object.Body
        : Readable.fromWeb(object.Body.transformToWebStream() as never);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a key that does not exist: deleting twice is fine.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  /** Closes the client's sockets (only when this storage made the client). */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  // A missing bucket is a misconfiguration, not a missing file: let it throw.
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

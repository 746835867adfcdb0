import { secret } from '@switchboard/config';
import { z } from 'zod';
import { S3MediaStorage } from './s3-storage.ts';
import { LocalMediaStorage, type MediaStorage } from './storage.ts';

const flag = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0'], { error: 'expected true, false, 1 or 0' }))
  .transform((text) => text === 'true' || text === '1');

/**
 * Where media is stored, as environment variables: one schema for the worker (which writes
 * downloads) and the API (which serves them and writes uploads), so both read the same store.
 * Compose it into a service's config with `defineConfig(..., mediaStorageSettingsSchema)`.
 * Values are strings (as the environment gives them) and come out typed.
 */
export const mediaStorageSettingsSchema = z
  .object({
    MEDIA_STORAGE: z
      .enum(['local', 's3', 'none'], { error: 'expected local, s3 or none' })
      .default('local')
      .describe(
        'Where media files are kept: local (a directory, MEDIA_DIR), s3 (a bucket, S3_*) or none (messages are stored without their files).',
      ),
    MEDIA_DIR: z
      .string()
      .min(1)
      .default('/var/lib/switchboard/media')
      .describe('Directory of media files when MEDIA_STORAGE=local (shared by the API and every worker).'),
    S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 of a-z, 0-9, ".", "-")')
      .optional()
      .describe('Bucket of media files; required when MEDIA_STORAGE=s3.'),
    S3_REGION: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'expected a region name such as eu-west-1')
      .default('us-east-1')
      .describe('Region of the bucket.'),
    S3_ENDPOINT: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .optional()
      .describe("An S3-compatible endpoint (MinIO, Ceph...); AWS's own when unset."),
    S3_FORCE_PATH_STYLE: flag
      .default(false)
      .describe(
        'Put the bucket in the URL path instead of the host name (most S3-compatible stores need it).',
      ),
    S3_ACCESS_KEY_ID: z
      .string()
      .min(1)
      .optional()
      .describe("Static access key id; the AWS SDK's default credential chain when unset."),
    // Marked secret: a secret:// reference is resolved at start and the value never logged.
    S3_SECRET_ACCESS_KEY: secret(z.string().min(1))
      .optional()
      .describe('Static secret access key, with S3_ACCESS_KEY_ID; give a secret:// reference.'),
  })
  .superRefine(
    (settings, ctx) => {
      if (settings.MEDIA_STORAGE === 's3' && settings.S3_BUCKET === undefined)
        ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'is required when MEDIA_STORAGE=s3' });
      const id = settings.S3_ACCESS_KEY_ID !== undefined;
      const key = settings.S3_SECRET_ACCESS_KEY !== undefined;
      if (id !== key)
        ctx.addIssue({
          code: 'custom',
          path: [id ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'],
          message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together or not at all',
        });
    },
    // Also when another variable failed: every problem shows in one failed start.
    { when: () => true },
  );

/** Parsed {@link mediaStorageSettingsSchema} (a service's config carries these fields). */
export type MediaStorageSettings = z.output<typeof mediaStorageSettingsSchema>;

/** Options for {@link mediaStorageFromSettings}. */
export interface MediaStorageFromSettingsOptions {
  /**
   * The tenant's slug: S3 keys go under `<slug>/`, so tenants can share a bucket (and an IAM
   * policy can scope each to its prefix). A local directory is one stack's own and gets no prefix.
   */
  tenant: string;
}

/**
 * The storage the settings describe (S3 clients are made here; nothing is contacted yet), or
 * undefined for `MEDIA_STORAGE=none`: then media is neither downloaded nor accepted for sending.
 */
export function mediaStorageFromSettings(
  settings: MediaStorageSettings,
  options: MediaStorageFromSettingsOptions,
): MediaStorage | undefined {
  if (settings.MEDIA_STORAGE === 'none') return undefined;
  if (settings.MEDIA_STORAGE === 'local') return new LocalMediaStorage(settings.MEDIA_DIR);
  if (!settings.S3_BUCKET) throw new Error('S3_BUCKET is required when MEDIA_STORAGE=s3');
  return new S3MediaStorage({
    bucket: settings.S3_BUCKET,
    region: settings.S3_REGION,
    prefix: `${options.tenant}/`,
    forcePathStyle: settings.S3_FORCE_PATH_STYLE,
    ...(settings.S3_ENDPOINT ? { endpoint: settings.S3_ENDPOINT } : {}),
    ...(settings.S3_ACCESS_KEY_ID && settings.S3_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: settings.S3_ACCESS_KEY_ID,
            secretAccessKey: settings.S3_SECRET_ACCESS_KEY,
          },
        }
      : {}),
  });
}

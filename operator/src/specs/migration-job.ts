import { createHash } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { DATABASE_SECRET_KEYS, databaseSecretName } from './database-secret.ts';
import { childNames, componentLabels } from './names.ts';
import { type OperatorConfig, tenantImages } from './operator-config.ts';
import { childMetadata } from './owner-reference.ts';
import {
  baseContainer,
  basePodSpec,
  DEFAULT_RESOURCES,
  resourceRequirements,
  secretEnv,
  tmpVolume,
  tmpVolumeMount,
} from './pod-template.ts';

/**
 * The migration Job: `node packages/db/src/cli.ts up` from the API image, as the database
 * owner. Its name carries a hash of the image, so each image version migrates exactly once:
 * the finished Job is the record that this version's migrations ran, and the controller rolls
 * the API and workers to a version only once its Job has succeeded.
 *
 * The controller creates this Job when it is missing and never updates it: a Job's pod template
 * is immutable, and anything but the image changing (resources, say) must not rerun migrations.
 */

/** Annotation with the full image reference the Job migrates for. */
export const MIGRATION_IMAGE_ANNOTATION = 'switchboard.dev/image';

/**
 * `<tenant>-migrate-<10 hex of sha256(image)>`. A hash rather than the tag: tags hold
 * characters names cannot (`_`, `@sha256:`), and a digest-pinned image has no tag at all.
 * At most 40 + 9 + 10 = 59 characters, inside the 63 a Job's pods need for their job-name label.
 */
export function migrationJobName(tenant: WhatsAppTenant, image: string): string {
  const digest = createHash('sha256').update(image).digest('hex').slice(0, 10);
  return `${tenant.metadata.name}-migrate-${digest}`;
}

/** The tag (or short digest) of an image, as a label value: `1.4.2`, `sha256-3f9a...`. */
export function imageVersionLabel(image: string): string {
  const at = image.indexOf('@');
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const raw = at !== -1 ? image.slice(at + 1) : colon > lastSlash ? image.slice(colon + 1) : 'latest';
  const label = raw.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63);
  return label.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'unknown';
}

/** The migration Job for the tenant's current API image. */
export function buildMigrationJob(tenant: WhatsAppTenant, config: OperatorConfig): V1Job {
  const image = tenantImages(tenant, config).api;
  const names = childNames(tenant);
  const secret = databaseSecretName(tenant);
  const labels = { 'app.kubernetes.io/version': imageVersionLabel(image) };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: childMetadata(tenant, migrationJobName(tenant, image), 'migrations', {
      labels,
      annotations: { [MIGRATION_IMAGE_ANNOTATION]: image },
    }),
    spec: {
      // A migration that failed four times needs a human; the failed Job stays, with its logs,
      // and the MigrationsApplied condition points at it.
      backoffLimit: 3,
      activeDeadlineSeconds: 900,
      // No ttlSecondsAfterFinished: a deleted Job would look like a version never migrated,
      // and the controller would run it again.
      template: {
        metadata: { labels: { ...componentLabels(tenant, 'migrations'), ...labels } },
        spec: {
          ...basePodSpec(config, names.migrations),
          restartPolicy: 'Never',
          containers: [
            {
              ...baseContainer(config, 'migrate', image),
              command: ['node', 'packages/db/src/cli.ts', 'up'],
              env: [
                secretEnv('DATABASE_URL', secret, DATABASE_SECRET_KEYS.ownerUrl),
                secretEnv('DATABASE_APP_ROLE', secret, DATABASE_SECRET_KEYS.appRole),
              ],
              resources: resourceRequirements(undefined, DEFAULT_RESOURCES.migrations),
              volumeMounts: [tmpVolumeMount()],
            },
          ],
          volumes: [tmpVolume()],
        },
      },
    },
  };
}

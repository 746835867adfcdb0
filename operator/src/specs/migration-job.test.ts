import { describe, expect, it } from 'vitest';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import {
  buildMigrationJob,
  imageVersionLabel,
  MIGRATION_IMAGE_ANNOTATION,
  migrationJobName,
} from './migration-job.ts';

const config = operatorConfigFixture();

describe('migrationJobName', () => {
  it('changes with the image version and only with it', () => {
    const tenant = tenantFixture({}, { name: 'job-test' });
    const v1 = migrationJobName(tenant, 'ghcr.io/switchboard/api:1.4.2');
    expect(v1).toMatch(/^job-test-migrate-[0-9a-f]{10}$/);
    expect(migrationJobName(tenant, 'ghcr.io/switchboard/api:1.4.2')).toBe(v1);
    expect(migrationJobName(tenant, 'ghcr.io/switchboard/api:1.4.3')).not.toBe(v1);
    // Other spec changes do not rerun migrations.
    const other = tenantFixture({ workers: { replicas: 9 } }, { name: 'job-test' });
    expect(buildMigrationJob(other, config).metadata?.name).toBe(
      buildMigrationJob(tenant, config).metadata?.name,
    );
  });

  it('fits a Job name for the longest tenant name', () => {
    const tenant = tenantFixture({}, { name: `j${'x'.repeat(39)}` });
    expect(migrationJobName(tenant, 'api@sha256:abc').length).toBeLessThanOrEqual(63);
  });
});

describe('imageVersionLabel', () => {
  it.each([
    ['ghcr.io/switchboard/api:1.4.2', '1.4.2'],
    ['localhost:5000/api', 'latest'],
    ['api@sha256:0123abcd', 'sha256-0123abcd'],
    ['api:v1_rc+build', 'v1_rc-build'],
  ])('%s -> %s', (image, label) => {
    expect(imageVersionLabel(image)).toBe(label);
  });
});

describe('buildMigrationJob', () => {
  it('runs the migration CLI from the API image as the database owner', () => {
    const job = buildMigrationJob(tenantFixture({}), config);
    const pod = job.spec?.template.spec;
    const container = pod?.containers[0];
    expect(container?.image).toBe('ghcr.io/switchboard/api:1.4.2');
    expect(container?.command).toEqual(['node', 'packages/db/src/cli.ts', 'up']);
    expect(container?.env).toEqual([
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'acme-db', key: 'ownerUrl' } } },
      { name: 'DATABASE_APP_ROLE', valueFrom: { secretKeyRef: { name: 'acme-db', key: 'appRole' } } },
    ]);
    expect(pod?.restartPolicy).toBe('Never');
    expect(pod?.serviceAccountName).toBe('acme-migrations');
    expect(job.metadata?.annotations?.[MIGRATION_IMAGE_ANNOTATION]).toBe('ghcr.io/switchboard/api:1.4.2');
    expect(job.metadata?.labels?.['app.kubernetes.io/version']).toBe('1.4.2');
  });

  it('retries a few times and keeps the finished Job as the record of the migration', () => {
    const job = buildMigrationJob(tenantFixture({}), config);
    expect(job.spec?.backoffLimit).toBe(3);
    expect(job.spec).not.toHaveProperty('ttlSecondsAfterFinished');
  });

  it('reads an external database’s Secret', () => {
    const tenant = tenantFixture({
      database: { mode: 'external', external: { secretRef: { name: 'their-db' } } },
    });
    const env = buildMigrationJob(tenant, config).spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.map((variable) => variable.valueFrom?.secretKeyRef?.name)).toEqual(['their-db', 'their-db']);
  });
});

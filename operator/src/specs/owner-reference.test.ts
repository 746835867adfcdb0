import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import type { SpecError } from './errors.ts';
import { childMetadata, tenantOwnerReference } from './owner-reference.ts';

const tenant = tenantFixture({}, { name: 'owner-test', uid: '11111111-2222-3333-4444-555555555555' });

describe('tenantOwnerReference', () => {
  it('makes the tenant the controlling owner that blocks deletion', () => {
    expect(tenantOwnerReference(tenant)).toEqual({
      apiVersion: 'switchboard.dev/v1alpha1',
      kind: 'WhatsAppTenant',
      name: 'owner-test',
      uid: '11111111-2222-3333-4444-555555555555',
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  it('refuses a tenant without a uid', () => {
    const unstored = { ...tenant, metadata: { ...tenant.metadata, uid: undefined } };
    expect(() => tenantOwnerReference(unstored)).toThrow(
      expect.objectContaining({ code: 'TENANT_NOT_STORED' }) as SpecError,
    );
  });
});

describe('childMetadata', () => {
  it('puts the child in the tenant namespace with labels and the owner reference', () => {
    const meta = childMetadata(tenant, 'owner-test-api', 'api', {
      labels: { extra: 'yes' },
      annotations: { note: 'x' },
    });
    expect(meta).toMatchObject({
      name: 'owner-test-api',
      namespace: 'tenants',
      labels: { 'app.kubernetes.io/component': 'api', 'switchboard.dev/tenant': 'owner-test', extra: 'yes' },
      annotations: { note: 'x' },
      ownerReferences: [tenantOwnerReference(tenant)],
    });
  });
});

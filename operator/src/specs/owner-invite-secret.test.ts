import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { buildOwnerInviteSecret, ownerInviteUrl } from './owner-invite-secret.ts';

const decode = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

describe('the owner invite Secret', () => {
  it('holds the accept-invite link on the ingress host, the token in the fragment', () => {
    const tenant = tenantFixture({
      api: { ingress: { host: 'acme.inbox.example.com', tlsSecretName: 'acme-tls' } },
      owner: { email: 'owner@acme.example.com' },
    });
    const secret = buildOwnerInviteSecret(tenant, {
      email: 'owner@acme.example.com',
      token: 'acme.abc+/=',
      expiresAt: '2026-12-14T10:00:00.000Z',
    });
    expect(secret.metadata).toMatchObject({ name: 'acme-owner-invite', namespace: 'tenants' });
    expect(secret.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('switchboard-operator');
    expect(secret.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'WhatsAppTenant', controller: true });
    expect(decode(secret.data?.url)).toBe(
      'https://acme.inbox.example.com/accept-invite#token=acme.abc%2B%2F%3D',
    );
    expect(decode(secret.data?.email)).toBe('owner@acme.example.com');
    expect(decode(secret.data?.expiresAt)).toBe('2026-12-14T10:00:00.000Z');
  });

  it('is a path without an ingress (append it to wherever the inbox is reached)', () => {
    expect(ownerInviteUrl(tenantFixture({}), 'acme.x')).toBe('/accept-invite#token=acme.x');
  });

  it('is refused by the schema for an owner that is not an email address', () => {
    expect(() => tenantFixture({ owner: { email: 'not-an-address' } })).toThrow(/email/);
  });
});

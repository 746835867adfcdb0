import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { buildServiceAccounts, IRSA_ROLE_ANNOTATION } from './service-accounts.ts';

describe('buildServiceAccounts', () => {
  it('makes one token-less ServiceAccount per kind of pod', () => {
    const accounts = buildServiceAccounts(tenantFixture({}));
    expect(accounts.map((account) => account.metadata?.name)).toEqual([
      'acme-api',
      'acme-worker',
      'acme-migrations',
      'acme-redis',
    ]);
    for (const account of accounts) expect(account.automountServiceAccountToken).toBe(false);
  });

  it('gives the IAM role to the pods that read AWS secrets only', () => {
    const arn = 'arn:aws:iam::123456789012:role/acme';
    const accounts = buildServiceAccounts(
      tenantFixture({ secrets: { provider: 'aws', aws: { region: 'eu-west-1', roleArn: arn } } }),
    );
    const annotated = accounts.filter(
      (account) => account.metadata?.annotations?.[IRSA_ROLE_ANNOTATION] === arn,
    );
    expect(annotated.map((account) => account.metadata?.name)).toEqual(['acme-api', 'acme-worker']);
  });
});

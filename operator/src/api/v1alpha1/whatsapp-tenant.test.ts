import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_VERSION, KIND, type WhatsAppTenantSpecInput, whatsAppTenantSchema } from './index.ts';

const EXAMPLE = join(import.meta.dirname, '../../../../docs/examples/tenant-acme.yaml');

function tenant(spec: unknown, name = 'acme') {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: 'tenants' }, spec };
}

/** The messages zod gives for `spec` (the same texts the API server's CEL rules give). */
function problems(spec: unknown, name = 'acme'): string[] {
  const result = whatsAppTenantSchema.safeParse(tenant(spec, name));
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('the example tenant', () => {
  it('is a valid WhatsAppTenant', async () => {
    const example = parse(await readFile(EXAMPLE, 'utf8'));
    const result = whatsAppTenantSchema.safeParse(example);
    expect(result.error?.issues ?? []).toEqual([]);
    expect(result.data?.spec.sessions.map((session) => session.name)).toEqual(['support', 'sales']);
  });
});

describe('whatsAppTenantSchema', () => {
  it('fills the documented defaults into an empty spec', () => {
    const { spec } = whatsAppTenantSchema.parse(tenant({}));
    expect(spec).toEqual({
      sessions: [],
      workers: { replicas: 2, maxSessionsPerWorker: 50 },
      api: {
        replicas: 2,
        autoscaling: { enabled: false, minReplicas: 2, maxReplicas: 10, targetCPUUtilizationPercentage: 70 },
      },
      redis: { mode: 'sentinel', sentinel: { replicas: 3, storage: { size: '1Gi' } } },
      database: { mode: 'managed', deletionPolicy: 'Retain' },
      secrets: { provider: 'kubernetes' },
      media: { storage: 'none' },
      outbound: { perContactPerMinute: 10, perSessionPerMinute: 60, typingDelay: true },
      cloudApi: {},
      observability: { serviceMonitor: true, prometheusRule: true },
      suspend: false,
    });
  });

  it('rejects unknown fields, so a typo in a manifest is caught offline', () => {
    expect(problems({ workers: { replica: 3 } })).toEqual(['spec.workers: Unrecognized key: "replica"']);
  });

  it.each<[string, WhatsAppTenantSpecInput, string[]]>([
    [
      'duplicate session names',
      { sessions: [{ name: 'support' }, { name: 'support' }] },
      ['spec.sessions: session names must be unique within a tenant'],
    ],
    [
      'a cloud-api session without its phone number ID and secret',
      { sessions: [{ name: 'sales', channel: 'cloud-api' }] },
      [
        'spec.sessions.0.phoneNumberId: cloud-api sessions need phoneNumberId (the phone number ID from Meta WhatsApp Manager)',
        'spec.sessions.0.secretRef: cloud-api sessions need secretRef: a secret with accessToken, appSecret and verifyToken',
      ],
    ],
    [
      'a baileys session with cloud-api fields',
      { sessions: [{ name: 'support', phoneNumberId: '123' }] },
      [
        'spec.sessions.0: phoneNumberId and secretRef apply only to cloud-api sessions; baileys sessions are paired by QR code in the inbox',
      ],
    ],
    [
      's3 media storage without its bucket',
      { media: { storage: 's3' } },
      ['spec.media.s3: media.storage s3 needs media.s3 (at least bucket)'],
    ],
    [
      'a media volume with s3 storage',
      { media: { storage: 's3', s3: { bucket: 'acme-media' }, volume: { claimName: 'media' } } },
      ['spec.media.volume: media.volume applies only with media.storage volume'],
    ],
    [
      'volume media storage without a claim',
      { media: { storage: 'volume' } },
      [
        'spec.media.volume: media.storage volume needs media.volume.claimName (an existing ReadWriteMany claim)',
      ],
    ],
    [
      'external redis without a secret',
      { redis: { mode: 'external' } },
      [
        'spec.redis.external: redis.mode external needs redis.external.secretRef: the Secret key holding the Redis URL',
      ],
    ],
    [
      'sentinel redis with an external secret',
      { redis: { external: { secretRef: { name: 'redis', key: 'url' } } } },
      [
        'spec.redis.external: redis.external applies only with redis.mode external; sentinel mode runs Redis for the tenant',
      ],
    ],
    [
      'external database without a secret',
      { database: { mode: 'external' } },
      [
        'spec.database.external: database.mode external needs database.external.secretRef: the Secret with the connection URLs',
      ],
    ],
    [
      'a host that is not a DNS name',
      { api: { ingress: { host: 'Acme_Inbox.example.com' } } },
      [
        'spec.api.ingress.host: host must be a DNS name such as acme.inbox.example.com: lower-case letters, digits, dashes and dots',
      ],
    ],
    [
      'autoscaling bounds the wrong way round',
      { api: { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 3 } } },
      ['spec.api.autoscaling.minReplicas: autoscaling.minReplicas must not exceed autoscaling.maxReplicas'],
    ],
    [
      'vault without its settings',
      { secrets: { provider: 'vault' } },
      ['spec.secrets.vault: secrets.provider vault needs secrets.vault (address, role and path)'],
    ],
    [
      'aws settings with another provider',
      { secrets: { aws: { region: 'eu-west-1' } } },
      ['spec.secrets.aws: secrets.aws applies only with secrets.provider aws'],
    ],
  ])('rejects %s with the CRD rule’s message', (_, spec, expected) => {
    expect(problems(spec)).toEqual(expected);
  });

  it('accepts each mode with what it needs', () => {
    expect(
      problems({
        sessions: [
          { name: 'sales', channel: 'cloud-api', phoneNumberId: '1098', secretRef: { name: 'sales' } },
        ],
        redis: { mode: 'external', external: { secretRef: { name: 'redis', key: 'url' } } },
        database: { mode: 'external', external: { secretRef: { name: 'db' } } },
        secrets: {
          provider: 'vault',
          vault: { address: 'https://vault:8200', role: 'acme', path: 'secret/data/acme' },
        },
      }),
    ).toEqual([]);
  });

  it('applies the name rules the API server applies at the root', () => {
    expect(problems({}, 'a'.repeat(41))).toEqual([
      ": metadata.name must be at most 40 characters: it prefixes the names of the tenant's objects and pods",
    ]);
    expect(problems({}, '1acme')).toEqual([
      ": metadata.name must start with a letter: it prefixes the tenant's Service names (DNS-1035 labels)",
    ]);
  });
});

// The generated CRD as the real API server serves it: kubectl explain, printer columns, the
// scale subresource and the CEL rules, checked through kubectl and the API, not by reading YAML.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  createTestNamespace,
  installCrds,
  kubeRequest,
  kubeRequestOk,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, KIND } from './v1alpha1/index.ts';

const { kubeConfig, kubeconfigPath, tools } = useControlPlane();
let ns: TestNamespace;

// The API server publishes a new CRD's OpenAPI document a few seconds after Established;
// kubectl explain reads that document, so it is retried until it is there.
async function explain(field: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await kubectl('explain', field);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(tools.kubectl, [`--kubeconfig=${kubeconfigPath}`, ...args]);
  return stdout;
}

const path = (name: string) => `/apis/switchboard.dev/v1alpha1/namespaces/${ns.name}/whatsapptenants/${name}`;

async function create(name: string, spec: unknown) {
  return await kubeRequest<{ message?: string }>(kubeConfig, {
    method: 'POST',
    path: `/apis/switchboard.dev/v1alpha1/namespaces/${ns.name}/whatsapptenants`,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec },
  });
}

beforeAll(async () => {
  await installCrds(kubeConfig, 'crds');
  ns = await createTestNamespace(kubeConfig, 'crd');
});
afterAll(() => ns?.delete());

describe('the WhatsAppTenant CRD on a real API server', () => {
  it('documents every field for kubectl explain', async () => {
    const workers = await explain('wat.spec.workers');
    expect(workers).toContain('Worker pods: they hold the WhatsApp connections');
    expect(workers).toMatch(/maxSessionsPerWorker\s+<integer>/);
    const mode = await explain('whatsapptenants.spec.database.mode');
    // kubectl wraps descriptions at 80 columns.
    expect(mode.replace(/\s+/g, ' ')).toContain('Cannot change after creation');
  });

  it('fills defaults and shows Phase, Workers, Sessions, Age and (wide) the Ready reason', async () => {
    const created = await create('columns', { sessions: [{ name: 'support', channel: 'baileys' }] });
    expect(created.status).toBe(201);
    const stored = await kubeRequestOk<{
      spec: { workers: { replicas: number }; database: { mode: string } };
    }>(kubeConfig, {
      path: path('columns'),
    });
    expect(stored.spec.workers.replicas).toBeGreaterThan(0);
    expect(stored.spec.database.mode).toBe('managed');
    await kubeRequestOk(kubeConfig, {
      method: 'PATCH',
      path: `${path('columns')}/status`,
      contentType: 'application/merge-patch+json',
      body: {
        status: {
          phase: 'Provisioning',
          workersSummary: '1/2',
          sessionsSummary: 'unknown',
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'WaitingForMigrations',
              message: 'Migrations run.',
              lastTransitionTime: '2026-12-01T10:00:00Z',
            },
          ],
        },
      },
    });
    const table = await kubectl('get', 'wat', 'columns', '-n', ns.name, '-o', 'wide');
    const [header, row] = table.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['NAME', 'PHASE', 'WORKERS', 'SESSIONS', 'AGE', 'REASON']);
    expect(row).toMatch(/^columns\s+Provisioning\s+1\/2\s+unknown\s+\S+\s+WaitingForMigrations$/);
  });

  it('scales workers with kubectl scale', async () => {
    await kubectl('scale', `wat/columns`, '-n', ns.name, '--replicas=5');
    const stored = await kubeRequestOk<{ spec: { workers: { replicas: number } } }>(kubeConfig, {
      path: path('columns'),
    });
    expect(stored.spec.workers.replicas).toBe(5);
  });

  it.each([
    [
      'duplicate session names',
      {
        sessions: [
          { name: 'a', channel: 'baileys' },
          { name: 'a', channel: 'baileys' },
        ],
      },
      // The list is a map keyed by name, so the schema itself refuses the duplicate.
      'spec.sessions[1]: Duplicate value',
    ],
    [
      'a session name that is not DNS-safe',
      { sessions: [{ name: 'Sales Team', channel: 'baileys' }] },
      'spec.sessions[0].name',
    ],
    [
      'a cloud-api session without its phone number id',
      { sessions: [{ name: 's', channel: 'cloud-api', secretRef: { name: 'x' } }] },
      'cloud-api sessions need phoneNumberId',
    ],
    [
      'an ingress host that is not a DNS name',
      { api: { ingress: { host: 'https://acme.example.com' } } },
      'spec.api.ingress.host',
    ],
    [
      'external Redis without its secret',
      { redis: { mode: 'external' } },
      'redis.mode external needs redis.external.secretRef',
    ],
    [
      'autoscaling bounds upside down',
      { api: { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 } } },
      'autoscaling.minReplicas must not exceed autoscaling.maxReplicas',
    ],
    [
      'vault without its settings',
      { secrets: { provider: 'vault' } },
      'secrets.provider vault needs secrets.vault',
    ],
    ['s3 media storage without its bucket', { media: { storage: 's3' } }, 'media.storage s3 needs media.s3'],
    [
      'email without an ingress for its links',
      { email: { host: 'smtp.example.com', from: 'no-reply@acme.example' } },
      'spec.email needs spec.api.ingress',
    ],
    [
      'an email From header of two lines',
      {
        api: { ingress: { host: 'acme.example.com' } },
        email: { host: 'smtp.example.com', from: 'a@b.example\r\nBcc: x@y.example' },
      },
      'spec.email.from',
    ],
    [
      'sso without an ingress for its redirect URI',
      { sso: { issuer: 'https://login.example.com', clientId: 'inbox', secretRef: { name: 'oidc' } } },
      'spec.sso needs spec.api.ingress',
    ],
    [
      'an sso issuer over plain http',
      {
        api: { ingress: { host: 'acme.example.com' } },
        sso: { issuer: 'http://login.example.com', clientId: 'inbox', secretRef: { name: 'oidc' } },
      },
      'spec.sso.issuer',
    ],
  ])('rejects %s, saying what is wrong', async (_what, spec, message) => {
    const response = await create(`bad-${Math.random().toString(36).slice(2, 8)}`, spec);
    expect(response.status).toBe(422);
    expect(response.body.message).toContain(message);
  });

  it('accepts spec.email with an ingress, defaulting tls to starttls', async () => {
    const email = {
      host: 'smtp.example.com',
      from: 'Acme <no-reply@acme.example>',
      secretRef: { name: 'smtp' },
    };
    const created = await create('mailing', { api: { ingress: { host: 'acme.example.com' } }, email });
    expect(created.status).toBe(201);
    const stored = await kubeRequestOk<{ spec: { email: unknown } }>(kubeConfig, { path: path('mailing') });
    expect(stored.spec.email).toEqual({ ...email, tls: 'starttls' });
  });

  it('accepts spec.sso with an ingress, defaulting to existing members, role agent, passwords allowed', async () => {
    const sso = {
      issuer: 'https://login.example.com/realms/acme',
      clientId: 'switchboard-inbox',
      secretRef: { name: 'oidc' },
      allowedDomains: ['acme.example'],
    };
    const created = await create('single-sign-on', { api: { ingress: { host: 'acme.example.com' } }, sso });
    expect(created.status).toBe(201);
    const stored = await kubeRequestOk<{ spec: { sso: unknown } }>(kubeConfig, {
      path: path('single-sign-on'),
    });
    expect(stored.spec.sso).toEqual({ ...sso, autoProvision: false, defaultRole: 'agent', ssoOnly: false });
  });

  it('rejects a name too long to prefix its children', async () => {
    const response = await create(`a${'b'.repeat(45)}`, {});
    expect(response.status).toBe(422);
    expect(response.body.message).toContain('at most 40 characters');
  });
});

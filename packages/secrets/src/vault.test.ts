// The Vault provider against a real Vault server (`vault server -dev`, built from HashiCorp's Go
// module by packages/testing), with token auth and with the Kubernetes auth method validating a
// real ServiceAccount token against the run's kube-apiserver (packages/envtest).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestNamespace,
  kubeRequestOk,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import { freePort, type RunningVault, startVault } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaleSecretEvent } from './cache.ts';
import { describeSecretProviderConformance } from './conformance.ts';
import { createSecretResolver } from './default-resolver.ts';
import { SecretError } from './provider.ts';
import { parseVaultPath, VaultSecretProvider } from './vault.ts';

let vault: RunningVault;
let dir: string;
const MOUNT = `kv-${randomBytes(3).toString('hex')}`;

/** A token that may only read MOUNT (what a tenant's role grants), not the root token. */
async function readerToken(): Promise<string> {
  const created = (await vault.requestOk('POST', 'auth/token/create', {
    policies: ['switchboard-reader'],
    ttl: '1h',
  })) as { auth: { client_token: string } };
  return created.auth.client_token;
}

beforeAll(async () => {
  // The first run on a machine builds Vault from its Go module (minutes; cached afterwards).
  vault = await startVault({ log: (line) => console.warn(`[vault] ${line}`) });
  await vault.enableKv2(MOUNT);
  await vault.requestOk('PUT', 'sys/policies/acl/switchboard-reader', {
    policy: `path "${MOUNT}/data/*" { capabilities = ["read"] }`,
  });
  dir = await mkdtemp(join(tmpdir(), 'cst-secrets-vault-'));
}, 60 * 60_000);

afterAll(async () => {
  await vault?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let fixtureCount = 0;
describeSecretProviderConformance({
  name: 'vault',
  supportsWatch: true,
  async create(secrets) {
    const base = `conformance-${++fixtureCount}`;
    await vault.putKv2(MOUNT, `${base}/plain`, { value: secrets.plain });
    await vault.putKv2(MOUNT, `${base}/structured`, secrets.structured);
    return {
      // A short TTL: the watch re-reads at that interval, so a rotation is seen quickly.
      provider: new VaultSecretProvider({
        address: vault.address,
        auth: { method: 'token', token: await readerToken() },
        cache: { ttlMs: 50 },
      }),
      plainPath: `${MOUNT}/${base}/plain`,
      structuredPath: `${MOUNT}/data/${base}/structured`,
      missingPath: `${MOUNT}/${base}/missing`,
      async rotatePlain(value) {
        await vault.putKv2(MOUNT, `${base}/plain`, { value });
      },
      async cleanup() {
        await vault.requestOk('DELETE', `${MOUNT}/metadata/${base}/plain`);
        await vault.requestOk('DELETE', `${MOUNT}/metadata/${base}/structured`);
      },
    };
  },
});

/** A clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

async function rejection(promise: Promise<unknown>): Promise<SecretError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SecretError);
  return error as SecretError;
}

describe('vault paths', () => {
  it('reads <mount>/<path> and the API form <mount>/data/<path> as the same entry', () => {
    expect(parseVaultPath('secret/switchboard/acme/meta')).toEqual({
      mount: 'secret',
      path: 'switchboard/acme/meta',
    });
    expect(parseVaultPath('secret/data/switchboard/acme/meta')).toEqual({
      mount: 'secret',
      path: 'switchboard/acme/meta',
    });
    expect(() => parseVaultPath('secret')).toThrow(/<kv mount>\/<entry path>/);
    expect(() => parseVaultPath('secret/data')).not.toThrow();
  });
});

describe('vault rotation and outages', () => {
  it('serves a value for its TTL, then reads the rotated one', async () => {
    const clock = manualClock();
    const provider = new VaultSecretProvider({
      address: vault.address,
      auth: { method: 'token', token: await readerToken() },
      cache: { ttlMs: 60_000, now: clock.now },
    });
    try {
      await vault.putKv2(MOUNT, 'rotation/meta', { accessToken: 'EAA-first' });
      await expect(provider.get(`${MOUNT}/rotation/meta`, 'accessToken')).resolves.toBe('EAA-first');
      await vault.putKv2(MOUNT, 'rotation/meta', { accessToken: 'EAA-second' });
      // Inside the TTL: the value in memory, no request to Vault.
      clock.advance(59_999);
      await expect(provider.get(`${MOUNT}/rotation/meta`, 'accessToken')).resolves.toBe('EAA-first');
      clock.advance(1);
      await expect(provider.get(`${MOUNT}/rotation/meta`, 'accessToken')).resolves.toBe('EAA-second');
    } finally {
      await provider.close();
    }
  });

  it('keeps serving the last good value for a bounded time when Vault refuses, and says so without the value', async () => {
    const clock = manualClock();
    const events: StaleSecretEvent[] = [];
    const token = await readerToken();
    const provider = new VaultSecretProvider({
      address: vault.address,
      auth: { method: 'token', token },
      cache: { ttlMs: 60_000, maxStaleMs: 600_000, now: clock.now, onStale: (event) => events.push(event) },
    });
    try {
      await vault.putKv2(MOUNT, 'outage/meta', { accessToken: 'EAA-kept-through-outage' });
      const path = `${MOUNT}/outage/meta`;
      await expect(provider.get(path, 'accessToken')).resolves.toBe('EAA-kept-through-outage');
      // The token stops working (revoked, expired): every read from now on is a 403.
      await vault.requestOk('POST', 'auth/token/revoke', { token });

      clock.advance(60_000);
      await expect(provider.get(path, 'accessToken')).resolves.toBe('EAA-kept-through-outage');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ provider: 'vault', path, code: 'SECRET_UNREADABLE', ageMs: 60_000 });
      expect(events[0]!.message).toMatch(/permission denied \(403\)/);
      expect(JSON.stringify(events)).not.toContain('EAA-kept-through-outage');

      // Still inside the bound (TTL + 10 minutes), a minute later: served, and reported again.
      clock.advance(60_000);
      await expect(provider.get(path, 'accessToken')).resolves.toBe('EAA-kept-through-outage');
      expect(events).toHaveLength(2);

      // Past the bound: the failure is the answer.
      clock.advance(600_000);
      const error = await rejection(provider.get(path, 'accessToken'));
      expect(error.code).toBe('SECRET_UNREADABLE');
      expect(error.message).not.toContain('EAA-kept-through-outage');
    } finally {
      await provider.close();
    }
  });

  it('does not serve a deleted entry stale: gone is an answer, not an outage', async () => {
    const clock = manualClock();
    const provider = new VaultSecretProvider({
      address: vault.address,
      auth: { method: 'token', token: await readerToken() },
      cache: { ttlMs: 60_000, now: clock.now },
    });
    try {
      await vault.putKv2(MOUNT, 'deleted/meta', { value: 'short-lived' });
      await expect(provider.get(`${MOUNT}/deleted/meta`)).resolves.toBe('short-lived');
      await vault.requestOk('DELETE', `${MOUNT}/metadata/deleted/meta`);
      clock.advance(60_000);
      expect((await rejection(provider.get(`${MOUNT}/deleted/meta`))).code).toBe('SECRET_NOT_FOUND');
    } finally {
      await provider.close();
    }
  });

  it('says a Vault that cannot be reached is unreadable, naming the address', async () => {
    // A loopback port that was free a moment ago and that nothing here listens on.
    const address = `http://127.0.0.1:${await freePort()}`;
    const provider = new VaultSecretProvider({
      address,
      auth: { method: 'token', token: 'not-a-real-token' },
    });
    try {
      const error = await rejection(provider.get(`${MOUNT}/anything`));
      expect(error.code).toBe('SECRET_UNREADABLE');
      expect(error.message).toContain(address);
      expect(error.message).toContain('ECONNREFUSED');
      expect(error.message).not.toContain('not-a-real-token');
    } finally {
      await provider.close();
    }
  });
});

describe('vault kubernetes auth against the kube-apiserver', () => {
  const plane = useControlPlane();
  let ns: TestNamespace;
  const reviewerBinding = `vault-token-reviewer-${randomBytes(3).toString('hex')}`;
  const AUTH_MOUNT = `k8s-${randomBytes(3).toString('hex')}`;
  let tokenPath: string;

  async function serviceAccountToken(name: string, audience?: string): Promise<string> {
    const answer = await kubeRequestOk<{ status: { token: string } }>(plane.kubeConfig, {
      method: 'POST',
      path: `/api/v1/namespaces/${ns.name}/serviceaccounts/${name}/token`,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600, ...(audience ? { audiences: [audience] } : {}) },
      },
    });
    return answer.status.token;
  }

  beforeAll(async () => {
    ns = await createTestNamespace(plane.kubeConfig, 'secrets-vault');
    for (const name of ['vault-reviewer', 'acme-api']) {
      await kubeRequestOk(plane.kubeConfig, {
        method: 'POST',
        path: `/api/v1/namespaces/${ns.name}/serviceaccounts`,
        body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } },
      });
    }
    // Vault checks a login's token with a TokenReview, as its own reviewer account: the role
    // a Vault deployment's service account gets.
    await kubeRequestOk(plane.kubeConfig, {
      method: 'POST',
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: reviewerBinding },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'system:auth-delegator',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'vault-reviewer', namespace: ns.name }],
      },
    });
    await vault.requestOk('POST', `sys/auth/${AUTH_MOUNT}`, { type: 'kubernetes' });
    await vault.requestOk('POST', `auth/${AUTH_MOUNT}/config`, {
      kubernetes_host: plane.server,
      kubernetes_ca_cert: plane.caCertificate,
      token_reviewer_jwt: await serviceAccountToken('vault-reviewer'),
      disable_local_ca_jwt: true,
    });
    // What secrets.vault.role names: the tenant's pods' service account, in its namespace,
    // with the audience the operator's projected token carries.
    await vault.requestOk('POST', `auth/${AUTH_MOUNT}/role/acme`, {
      bound_service_account_names: ['acme-api'],
      bound_service_account_namespaces: [ns.name],
      audience: 'vault',
      token_policies: ['switchboard-reader'],
      token_ttl: '1h',
    });
    // The projected token file the operator mounts (secret-provider.ts: VAULT_TOKEN_PATH).
    tokenPath = join(dir, 'vault-token');
    await writeFile(tokenPath, `${await serviceAccountToken('acme-api', 'vault')}\n`);
    await vault.putKv2(MOUNT, 'switchboard/acme/meta', {
      accessToken: 'EAA-from-kubernetes-auth',
      appSecret: 'app-secret-k8s',
      verifyToken: 'verify-k8s',
    });
  });

  afterAll(async () => {
    await kubeRequestOk(plane.kubeConfig, {
      method: 'DELETE',
      path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${reviewerBinding}`,
    }).catch(() => undefined);
    await ns?.delete();
  });

  it('resolves the operator-written reference with the env the operator writes', async () => {
    const resolver = createSecretResolver({
      env: {
        SECRETS_PROVIDER: 'vault',
        VAULT_ADDR: vault.address,
        VAULT_ROLE: 'acme',
        VAULT_AUTH_MOUNT_PATH: AUTH_MOUNT,
        VAULT_TOKEN_PATH: tokenPath,
      },
    });
    try {
      expect(resolver.providerNames()).toEqual(['env', 'file', 'vault']);
      // sessionCredentials() with secrets.vault.path `<mount>/data/switchboard/acme`.
      for (const [key, value] of [
        ['accessToken', 'EAA-from-kubernetes-auth'],
        ['appSecret', 'app-secret-k8s'],
        ['verifyToken', 'verify-k8s'],
      ] as const) {
        await expect(
          resolver.resolve(`secret://vault/${MOUNT}/data/switchboard/acme/meta#${key}`),
        ).resolves.toBe(value);
      }
    } finally {
      await resolver.close();
    }
  });

  it('logs in again when its Vault token is revoked, with the token file as it is now', async () => {
    const clock = manualClock();
    const provider = new VaultSecretProvider({
      address: vault.address,
      auth: { method: 'kubernetes', role: 'acme', tokenPath, mountPath: AUTH_MOUNT },
      cache: { ttlMs: 1_000, now: clock.now },
    });
    try {
      const path = `${MOUNT}/switchboard/acme/meta`;
      await expect(provider.get(path, 'accessToken')).resolves.toBe('EAA-from-kubernetes-auth');
      // Revoke every token the role issued so far: the next read is a 403, then a new login.
      const accessors = (await vault.requestOk('GET', 'auth/token/accessors?list=true')) as {
        data: { keys: string[] };
      };
      for (const accessor of accessors.data.keys) {
        const info = (await vault.requestOk('POST', 'auth/token/lookup-accessor', { accessor })) as {
          data: { path: string };
        };
        if (info.data.path.startsWith(`auth/${AUTH_MOUNT}/`)) {
          await vault.requestOk('POST', 'auth/token/revoke-accessor', { accessor });
        }
      }
      // The kubelet rotated the projected token meanwhile: the new login reads the new file.
      await writeFile(tokenPath, `${await serviceAccountToken('acme-api', 'vault')}\n`);
      await vault.putKv2(MOUNT, 'switchboard/acme/meta', {
        accessToken: 'EAA-after-relogin',
        appSecret: 'app-secret-k8s',
        verifyToken: 'verify-k8s',
      });
      clock.advance(1_000);
      await expect(provider.get(path, 'accessToken')).resolves.toBe('EAA-after-relogin');
    } finally {
      await provider.close();
    }
  });

  it('refuses a token of another service account, and a missing token file, as unreadable', async () => {
    const otherPath = join(dir, 'other-token');
    await writeFile(otherPath, await serviceAccountToken('vault-reviewer', 'vault'));
    for (const [file, expected] of [
      [
        otherPath,
        /vault kubernetes login \(role "acme" at auth\/k8s-[0-9a-f]+\): (permission denied \(403\)|Vault refused the request \(400\))/,
      ],
      [join(dir, 'no-such-token'), /token file .*no-such-token could not be read \(ENOENT\)/],
    ] as const) {
      const provider = new VaultSecretProvider({
        address: vault.address,
        auth: { method: 'kubernetes', role: 'acme', tokenPath: file, mountPath: AUTH_MOUNT },
      });
      try {
        const error = await rejection(provider.get(`${MOUNT}/switchboard/acme/meta`, 'accessToken'));
        expect(error.code).toBe('SECRET_UNREADABLE');
        expect(error.message).toMatch(expected);
        expect(error.message).not.toContain('EAA-');
      } finally {
        await provider.close();
      }
    }
  });
});

// The AWS Secrets Manager provider against moto's Secrets Manager (the real wire protocol on
// loopback; AWS itself cannot be reached from tests).
import { randomBytes } from 'node:crypto';
import { CreateSecretCommand, DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { type RunningMoto, startMoto } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsSecretsManagerProvider } from './aws.ts';
import type { StaleSecretEvent } from './cache.ts';
import { describeSecretProviderConformance } from './conformance.ts';
import { createSecretResolver } from './default-resolver.ts';
import { SecretError } from './provider.ts';

let moto: RunningMoto;
const PREFIX = `switchboard/${randomBytes(3).toString('hex')}/`;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

function provider(options: Partial<ConstructorParameters<typeof AwsSecretsManagerProvider>[0]> = {}) {
  return new AwsSecretsManagerProvider({
    region: moto.region,
    endpoint: moto.endpoint,
    credentials: moto.credentials,
    ...options,
  });
}

let fixtureCount = 0;
describeSecretProviderConformance({
  name: 'aws',
  supportsWatch: true,
  async create(secrets) {
    const base = `${PREFIX}conformance-${++fixtureCount}`;
    await moto.createSecret(`${base}/plain`, secrets.plain);
    await moto.createSecret(`${base}/structured`, JSON.stringify(secrets.structured));
    return {
      // A short TTL: the watch re-reads at that interval, so a rotation is seen quickly.
      provider: provider({ cache: { ttlMs: 50 } }),
      plainPath: `${base}/plain`,
      structuredPath: `${base}/structured`,
      missingPath: `${base}/missing`,
      async rotatePlain(value) {
        await moto.putSecretValue(`${base}/plain`, value);
      },
      async cleanup() {
        await moto.deleteSecret(`${base}/plain`);
        await moto.deleteSecret(`${base}/structured`);
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

describe('aws rotation and outages', () => {
  it('serves a value for its TTL, then reads the rotated one (an S3 key pair rotated in place)', async () => {
    const clock = manualClock();
    const aws = provider({ cache: { ttlMs: 60_000, now: clock.now } });
    const name = `${PREFIX}rotation/s3`;
    try {
      await moto.createSecret(
        name,
        JSON.stringify({ accessKeyId: 'AKIAFIRST', secretAccessKey: 'first-secret' }),
      );
      await expect(aws.get(name, 'secretAccessKey')).resolves.toBe('first-secret');
      await moto.putSecretValue(
        name,
        JSON.stringify({ accessKeyId: 'AKIASECOND', secretAccessKey: 'second-secret' }),
      );
      clock.advance(59_999);
      await expect(aws.get(name, 'secretAccessKey')).resolves.toBe('first-secret');
      clock.advance(1);
      await expect(aws.get(name, 'secretAccessKey')).resolves.toBe('second-secret');
      await expect(aws.get(name, 'accessKeyId')).resolves.toBe('AKIASECOND');
    } finally {
      await aws.close();
    }
  });

  it('reads a secret by its ARN and a binary secret as text', async () => {
    const aws = provider();
    const name = `${PREFIX}by-arn`;
    try {
      await moto.createSecret(name, 'arn-value');
      const { ARN } = await moto.secretsManager.send(new DescribeSecretCommand({ SecretId: name }));
      await expect(aws.get(ARN!)).resolves.toBe('arn-value');
      await moto.secretsManager.send(
        new CreateSecretCommand({ Name: `${PREFIX}binary`, SecretBinary: Buffer.from('binary-ünï', 'utf8') }),
      );
      await expect(aws.get(`${PREFIX}binary`)).resolves.toBe('binary-ünï');
    } finally {
      await aws.close();
    }
  });

  it('keeps serving the last good value for a bounded time while Secrets Manager is down, and says so without the value', async () => {
    // A moto of this test's own, stopped in the middle: the outage.
    const own = await startMoto();
    const clock = manualClock();
    const events: StaleSecretEvent[] = [];
    const aws = new AwsSecretsManagerProvider({
      region: own.region,
      endpoint: own.endpoint,
      credentials: own.credentials,
      maxAttempts: 1,
      cache: { ttlMs: 60_000, maxStaleMs: 300_000, now: clock.now, onStale: (event) => events.push(event) },
    });
    try {
      await own.createSecret('meta', JSON.stringify({ accessToken: 'EAA-through-the-outage' }));
      await expect(aws.get('meta', 'accessToken')).resolves.toBe('EAA-through-the-outage');
      await own.stop();

      clock.advance(60_000);
      await expect(aws.get('meta', 'accessToken')).resolves.toBe('EAA-through-the-outage');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        provider: 'aws',
        path: 'meta',
        code: 'SECRET_UNREADABLE',
        ageMs: 60_000,
      });
      expect(events[0]!.message).toMatch(/ECONNREFUSED/);
      expect(JSON.stringify(events)).not.toContain('EAA-through-the-outage');

      clock.advance(300_000);
      const error = await rejection(aws.get('meta', 'accessToken'));
      expect(error.code).toBe('SECRET_UNREADABLE');
      expect(error.message).not.toContain('EAA-through-the-outage');
    } finally {
      await aws.close();
      await own.stop();
    }
  });

  it('does not serve a deleted secret stale', async () => {
    const clock = manualClock();
    const aws = provider({ cache: { ttlMs: 60_000, now: clock.now } });
    const name = `${PREFIX}deleted`;
    try {
      await moto.createSecret(name, 'short-lived');
      await expect(aws.get(name)).resolves.toBe('short-lived');
      await moto.deleteSecret(name);
      clock.advance(60_000);
      expect((await rejection(aws.get(name))).code).toBe('SECRET_NOT_FOUND');
    } finally {
      await aws.close();
    }
  });
});

describe('aws through the default resolver', () => {
  it('resolves the operator-written reference with SECRETS_PROVIDER=aws and AWS_REGION', async () => {
    const name = `${PREFIX}tenants/acme-meta`;
    await moto.createSecret(
      name,
      JSON.stringify({ accessToken: 'EAA-from-aws', appSecret: 'app-secret-aws', verifyToken: 'verify-aws' }),
    );
    const resolver = createSecretResolver({
      env: {
        SECRETS_PROVIDER: 'aws',
        AWS_REGION: moto.region,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
        AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
      },
    });
    try {
      expect(resolver.providerNames()).toEqual(['aws', 'env', 'file']);
      // sessionCredentials() with secrets.aws.namePrefix `<PREFIX>tenants/acme-` and secretRef `meta`.
      await expect(resolver.resolve(`secret://aws/${name}#accessToken`)).resolves.toBe('EAA-from-aws');
      await expect(resolver.resolve(`secret://aws/${name}#verifyToken`)).resolves.toBe('verify-aws');
    } finally {
      await resolver.close();
    }
  });
});

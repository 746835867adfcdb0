import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSecretResolver } from './default-resolver.ts';
import { EnvSecretProvider } from './env.ts';
import { SecretError, type SecretProvider } from './provider.ts';
import { SecretResolver } from './resolver.ts';

describe('SecretResolver', () => {
  it('resolves references through the provider they name', async () => {
    const resolver = new SecretResolver({
      providers: [new EnvSecretProvider({ env: { A: 'a', J: '{"k":"v"}' } })],
    });
    await expect(resolver.resolve('secret://env/A')).resolves.toBe('a');
    await expect(resolver.resolve('secret://env/J#k')).resolves.toBe('v');
    await expect(resolver.resolve({ provider: 'env', path: 'A' })).resolves.toBe('a');
  });

  it('names an unknown provider and lists the registered ones', async () => {
    const resolver = createSecretResolver({ env: {} });
    const error = (await resolver
      .resolve('secret://vault/kv/acme#token')
      .catch((e: unknown) => e)) as SecretError;
    expect(error).toBeInstanceOf(SecretError);
    expect(error.code).toBe('SECRET_PROVIDER_UNKNOWN');
    expect(error.message).toContain('unknown secret provider "vault"');
    expect(error.message).toContain('registered providers: env, file');
  });

  it('prefixes provider errors with the reference and keeps their code', async () => {
    const resolver = createSecretResolver({ env: {} });
    await expect(resolver.resolve('secret://env/NOT_SET')).rejects.toMatchObject({
      code: 'SECRET_NOT_FOUND',
      message: 'secret://env/NOT_SET: env variable "NOT_SET" is not set',
    });
  });

  it('rejects an invalid reference before reaching any provider', async () => {
    const resolver = createSecretResolver({ env: {} });
    await expect(resolver.resolve('secret://env')).rejects.toMatchObject({
      code: 'SECRET_REFERENCE_INVALID',
    });
  });

  it('hides the message of a non-SecretError thrown by a provider (it may quote a response)', async () => {
    const leaky: SecretProvider = {
      name: 'leaky',
      async get() {
        throw new Error('HTTP 500: {"data":{"password":"s3cr3t-in-body"}}');
      },
      async close() {},
    };
    const resolver = new SecretResolver({ providers: [leaky] });
    const error = (await resolver.resolve('secret://leaky/x').catch((e: unknown) => e)) as SecretError;
    expect(error.code).toBe('SECRET_UNREADABLE');
    expect(error.message).toBe('secret://leaky/x: provider "leaky" failed (Error)');
  });

  it('refuses duplicate and unusable provider names', () => {
    const resolver = createSecretResolver({ env: {} });
    expect(() => resolver.register(new EnvSecretProvider({ env: {} }))).toThrow(/already registered/);
    expect(() => resolver.register({ name: 'Bad_Name', get: async () => '', close: async () => {} })).toThrow(
      /cannot be used/,
    );
  });

  it('delivers the new value to watchers of a file reference, and nothing for env', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cst-secrets-resolver-'));
    try {
      await writeFile(join(dir, 'creds.json'), '{"password":"one"}');
      const resolver = createSecretResolver({ env: { A: 'a' }, fileBaseDir: dir });
      const values: string[] = [];
      const changed = new Promise<void>((resolve) => {
        resolver.watch('secret://file/creds.json#password', (value) => {
          values.push(value);
          resolve();
        });
      });
      expect(resolver.watch('secret://env/A', () => {})).toBeTypeOf('function');
      await writeFile(join(dir, 'creds.json'), '{"password":"two"}');
      await changed;
      expect(values).toEqual(['two']);
      await resolver.close();
      await resolver.close();
      await expect(resolver.resolve('secret://env/A')).rejects.toMatchObject({
        code: 'SECRET_PROVIDER_CLOSED',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports every provider that fails to close', async () => {
    const failing = (name: string): SecretProvider => ({
      name,
      get: async () => '',
      close: async () => {
        throw new Error(`${name} close failed`);
      },
    });
    const resolver = new SecretResolver({ providers: [failing('a'), failing('b')] });
    const error = (await resolver.close().catch((e: unknown) => e)) as AggregateError;
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.errors).toHaveLength(2);
  });
});

import { describe, expect, it } from 'vitest';
import { describeSecretProviderConformance } from './conformance.ts';
import { EnvSecretProvider } from './env.ts';
import { SecretError } from './provider.ts';

describeSecretProviderConformance({
  name: 'env',
  supportsWatch: false,
  async create(secrets) {
    const env = {
      CST_PLAIN: secrets.plain,
      CST_STRUCTURED: JSON.stringify(secrets.structured),
    };
    return {
      provider: new EnvSecretProvider({ env }),
      plainPath: 'CST_PLAIN',
      structuredPath: 'CST_STRUCTURED',
      missingPath: 'CST_MISSING',
      async cleanup() {},
    };
  },
});

describe('EnvSecretProvider', () => {
  it('reads the env object it was given, not process.env', async () => {
    process.env.CST_ONLY_IN_PROCESS = 'from-process';
    try {
      const provider = new EnvSecretProvider({ env: { CST_ONLY_IN_OBJECT: 'from-object' } });
      await expect(provider.get('CST_ONLY_IN_OBJECT')).resolves.toBe('from-object');
      await expect(provider.get('CST_ONLY_IN_PROCESS')).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
    } finally {
      delete process.env.CST_ONLY_IN_PROCESS;
    }
  });

  it('turns JSON numbers and booleans into their text, and refuses objects', async () => {
    const provider = new EnvSecretProvider({ env: { CREDS: '{"port":6379,"tls":true,"nested":{"a":"b"}}' } });
    await expect(provider.get('CREDS', 'port')).resolves.toBe('6379');
    await expect(provider.get('CREDS', 'tls')).resolves.toBe('true');
    await expect(provider.get('CREDS', 'nested')).rejects.toMatchObject({ code: 'SECRET_MALFORMED' });
  });

  it('reports broken JSON without quoting it (JSON.parse would)', async () => {
    const provider = new EnvSecretProvider({ env: { CREDS: '{"password": "hunter2-leak' } });
    const error = await provider.get('CREDS', 'password').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as SecretError).code).toBe('SECRET_MALFORMED');
    expect((error as SecretError).message).not.toContain('hunter2');
    expect((error as Error).cause).toBeUndefined();
  });

  it('rejects a path that is not a variable name', async () => {
    const provider = new EnvSecretProvider({ env: {} });
    await expect(provider.get('a/b')).rejects.toMatchObject({ code: 'SECRET_REFERENCE_INVALID' });
  });
});

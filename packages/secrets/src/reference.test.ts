import { describe, expect, it } from 'vitest';
import { SecretError } from './provider.ts';
import { formatSecretReference, isSecretReference, parseSecretReference } from './reference.ts';

function problem(input: string): string {
  try {
    parseSecretReference(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SecretError);
    expect((error as SecretError).code).toBe('SECRET_REFERENCE_INVALID');
    return (error as SecretError).message;
  }
  throw new Error(`expected "${input}" to be rejected`);
}

describe('parseSecretReference', () => {
  it('parses provider, path and key', () => {
    expect(parseSecretReference('secret://env/REDIS_PASSWORD')).toEqual({
      provider: 'env',
      path: 'REDIS_PASSWORD',
    });
    expect(parseSecretReference('secret://file/var/run/secrets/redis/creds#password')).toEqual({
      provider: 'file',
      path: 'var/run/secrets/redis/creds',
      key: 'password',
    });
    expect(
      parseSecretReference('secret://aws/arn:aws:secretsmanager:eu-west-1:123:secret:db-AbC#url'),
    ).toEqual({
      provider: 'aws',
      path: 'arn:aws:secretsmanager:eu-west-1:123:secret:db-AbC',
      key: 'url',
    });
    expect(parseSecretReference('secret://vault/kv/data/switchboard/acme#api_key').key).toBe('api_key');
  });

  it('round-trips through formatSecretReference', () => {
    for (const input of ['secret://env/A', 'secret://file/a/b.json#k-1', 'secret://vault/kv/x#y.z']) {
      expect(formatSecretReference(parseSecretReference(input))).toBe(input);
    }
  });

  it('says exactly what is wrong', () => {
    expect(problem('env/REDIS_PASSWORD')).toMatch(/must start with "secret:\/\/"/);
    expect(problem('SECRET://env/X')).toMatch(/must start with "secret:\/\/"/);
    expect(problem('secret:///X')).toMatch(/provider name is missing/);
    expect(problem('secret://Env/X')).toMatch(/provider name "Env" must be lowercase/);
    expect(problem('secret://env')).toMatch(/path is missing/);
    expect(problem('secret://env/')).toMatch(/path is missing/);
    expect(problem('secret://env#key')).toMatch(/path is missing/);
    expect(problem('secret://file//etc/x')).toMatch(/empty segment/);
    expect(problem('secret://file/etc/x/')).toMatch(/empty segment/);
    expect(problem('secret://file/a/../etc/shadow')).toMatch(/"\.\." segments/);
    expect(problem('secret://file/a b')).toMatch(/whitespace at position 15/);
    expect(problem('secret://vault/kv/x?version=2')).toMatch(/query strings are not supported/);
    expect(problem('secret://file/a#b#c')).toMatch(/more than one "#"/);
    expect(problem('secret://file/a#')).toMatch(/key after "#" is empty/);
    expect(problem('secret://file/a#b c')).toMatch(/key "b c" must be/);
  });

  it('quotes the reference in the message so the bad variable can be found', () => {
    expect(problem('secret://Env/X')).toContain('"secret://Env/X"');
  });
});

describe('isSecretReference', () => {
  it('recognises the scheme only', () => {
    expect(isSecretReference('secret://env/X')).toBe(true);
    expect(isSecretReference('secret://')).toBe(true);
    expect(isSecretReference('redis://localhost:6379')).toBe(false);
    expect(isSecretReference(undefined)).toBe(false);
  });
});

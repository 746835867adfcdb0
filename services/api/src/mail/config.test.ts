// The API's mail settings as server.ts reads them: the config schema's SMTP_* fields, and the
// Mailer built from them (none without SMTP_HOST, a named error when a required one is missing).
import { ConfigError, loadConfig } from '@switchboard/config';
import { createSecretResolver } from '@switchboard/secrets';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../config.ts';
import { mailerFromConfig } from './index.ts';

const BASE = {
  DATABASE_URL: 'postgres://app:pw@db/acme',
  REDIS_URL: 'redis://redis:6379/0',
  SWITCHBOARD_TENANT: 'acme',
  JWT_SIGNING_KEY: 'k'.repeat(48),
};

const SMTP = {
  SMTP_HOST: 'smtp.example.com',
  SMTP_FROM: 'Acme <no-reply@acme.example>',
  PUBLIC_URL: 'https://acme.inbox.example.com',
};

async function load(env: Record<string, string>) {
  const resolver = createSecretResolver({ env: { ...env } });
  try {
    return await loadConfig(apiConfigSchema, { env: { ...BASE, ...env }, resolver });
  } finally {
    await resolver.close();
  }
}

describe('the mail settings', () => {
  it('default to no mail (no Mailer), starttls and English', async () => {
    const config = await load({});
    expect(config.SMTP_HOST).toBeUndefined();
    expect(config.SMTP_TLS).toBe('starttls');
    expect(config.MAIL_LOCALE).toBe('en');
    expect(await mailerFromConfig(config, 'Acme', {})).toBeUndefined();
  });

  it('build a Mailer with the relay, its password resolved from a secret reference', async () => {
    const config = await load({
      ...SMTP,
      SMTP_TLS: 'tls',
      SMTP_PORT: '2465',
      SMTP_USERNAME: 'mailer',
      SMTP_PASSWORD: 'secret://env/TEST_SMTP_PASSWORD',
      TEST_SMTP_PASSWORD: 'relay-password-123',
    });
    expect(config.SMTP_PASSWORD).toBe('relay-password-123');
    expect(config.SMTP_PORT).toBe(2465);
    const mailer = await mailerFromConfig(config, 'Acme', {});
    expect(mailer?.linkFor('acme.tok/en')).toBe(
      'https://acme.inbox.example.com/accept-invite#token=acme.tok%2Fen',
    );
    await mailer?.close();
  });

  it('refuse a TLS mode, locale or public URL they do not know, naming the variable', async () => {
    const error = await load({
      ...SMTP,
      SMTP_TLS: 'ssl',
      MAIL_LOCALE: 'xx',
      PUBLIC_URL: 'ftp://inbox',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['SMTP_TLS', 'MAIL_LOCALE', 'PUBLIC_URL']) expect(message).toContain(name);
  });

  it('need SMTP_FROM and PUBLIC_URL with SMTP_HOST, and the username and password together', async () => {
    await expect(
      mailerFromConfig(
        await load({ SMTP_HOST: 'smtp.example.com', PUBLIC_URL: SMTP.PUBLIC_URL }),
        'Acme',
        {},
      ),
    ).rejects.toThrow(/^SMTP_FROM: required when SMTP_HOST is set/);
    await expect(
      mailerFromConfig(await load({ SMTP_HOST: 'smtp.example.com', SMTP_FROM: SMTP.SMTP_FROM }), 'Acme', {}),
    ).rejects.toThrow(/^PUBLIC_URL: required when SMTP_HOST is set/);
    await expect(
      mailerFromConfig(await load({ ...SMTP, SMTP_PASSWORD: 'relay-password-123' }), 'Acme', {}),
    ).rejects.toThrow(/^SMTP_USERNAME and SMTP_PASSWORD: give both or neither$/);
  });
});

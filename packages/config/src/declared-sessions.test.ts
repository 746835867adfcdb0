import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecretResolver } from '@switchboard/secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeclaredSessionsError,
  parseDeclaredSessions,
  readDeclaredSessions,
  resolveCloudApiCredentials,
} from './declared-sessions.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'declared-sessions-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cloud = (name: string, phoneNumberId: string, prefix: string) => ({
  name,
  channel: 'cloud-api',
  phoneNumberId,
  credentials: {
    accessToken: `secret://env/${prefix}_TOKEN`,
    appSecret: `secret://env/${prefix}_APP_SECRET`,
    verifyToken: `secret://env/${prefix}_VERIFY`,
  },
});

describe('declared sessions', () => {
  it('reads a valid file and names the file and field of a bad one', async () => {
    const good = join(dir, 'good.json');
    await writeFile(
      good,
      JSON.stringify([{ name: 'main', channel: 'baileys' }, cloud('shop', '1001', 'SHOP')]),
    );
    expect((await readDeclaredSessions(good)).map((s) => s.name)).toEqual(['main', 'shop']);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ name: 'Main!', channel: 'baileys' }]));
    await expect(readDeclaredSessions(bad)).rejects.toThrow(/bad\.json is invalid: \[0\.name\]/);
    await expect(readDeclaredSessions(join(dir, 'missing.json'))).rejects.toThrow(DeclaredSessionsError);
    expect(() =>
      parseDeclaredSessions(
        [
          { name: 'a', channel: 'baileys' },
          { name: 'a', channel: 'baileys' },
        ],
        'x',
      ),
    ).toThrow(/duplicate session a/);
  });

  it('resolves each Cloud API number’s credentials through secret:// references', async () => {
    const resolver = createSecretResolver({
      env: {
        SHOP_TOKEN: 't1',
        SHOP_APP_SECRET: 'app-1',
        SHOP_VERIFY: 'v1',
        DESK_TOKEN: 't2',
        DESK_APP_SECRET: 'app-2',
        DESK_VERIFY: 'v2',
      },
    });
    try {
      const sessions = parseDeclaredSessions(
        [{ name: 'main', channel: 'baileys' }, cloud('shop', '1001', 'SHOP'), cloud('desk', '1002', 'DESK')],
        'test',
      );
      expect(await resolveCloudApiCredentials(sessions, resolver)).toEqual([
        {
          sessionName: 'shop',
          phoneNumberId: '1001',
          accessToken: 't1',
          appSecret: 'app-1',
          verifyToken: 'v1',
        },
        {
          sessionName: 'desk',
          phoneNumberId: '1002',
          accessToken: 't2',
          appSecret: 'app-2',
          verifyToken: 'v2',
        },
      ]);
      const missing = parseDeclaredSessions([cloud('gone', '1003', 'GONE')], 'test');
      await expect(resolveCloudApiCredentials(missing, resolver)).rejects.toThrow(
        /session gone: credentials\.accessToken \(secret:\/\/env\/GONE_TOKEN\) does not resolve/,
      );
      const twice = parseDeclaredSessions(
        [cloud('shop', '1001', 'SHOP'), cloud('shop2', '1001', 'SHOP')],
        'test',
      );
      await expect(resolveCloudApiCredentials(twice, resolver)).rejects.toThrow(
        /both declare phone number id 1001/,
      );
    } finally {
      await resolver.close();
    }
  });
});

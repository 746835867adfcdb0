import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db, ensureTenant, withTenant } from '@switchboard/db';
import { createTestDatabase, type TestDatabase } from '@switchboard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeclaredSessionsError, readDeclaredSessions, syncDeclaredSessions } from './declared-sessions.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let dir: string;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'declared' });
  db = createDb({ databaseUrl: database.appUrl, maxConnections: 4 });
  tenantId = await ensureTenant(db, { slug: 'declared', displayName: 'Declared' });
  dir = await mkdtemp(join(tmpdir(), 'declared-'));
});
afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sessions = () =>
  withTenant(db, tenantId, (tx) =>
    tx.session.findMany({ orderBy: { name: 'asc' }, select: { name: true, channel: true, declared: true } }),
  );

describe('syncDeclaredSessions', () => {
  it('creates declared sessions once however many workers sync at once, and undeclares dropped ones without deleting them', async () => {
    const declared = [
      { name: 'support', channel: 'baileys' as const },
      { name: 'meta', channel: 'cloud-api' as const, phoneNumberId: '1234567890' },
    ];
    const results = await Promise.all([1, 2, 3].map(() => syncDeclaredSessions(db, tenantId, declared)));
    expect(results.flatMap((r) => r.created).sort()).toEqual(['meta', 'support']);
    expect(await sessions()).toEqual([
      { name: 'meta', channel: 'cloud_api', declared: true },
      { name: 'support', channel: 'baileys', declared: true },
    ]);

    // An inbox-made session of the same name becomes declared; one no longer declared stays, undeclared.
    await withTenant(db, tenantId, (tx) =>
      tx.session.create({ data: { tenantId, name: 'sales', channel: 'baileys' } }),
    );
    const next = await syncDeclaredSessions(db, tenantId, [
      { name: 'support', channel: 'baileys' },
      { name: 'sales', channel: 'baileys' },
    ]);
    expect(next).toEqual({ created: [], undeclared: ['meta'] });
    expect(await sessions()).toEqual([
      { name: 'meta', channel: 'cloud_api', declared: false },
      { name: 'sales', channel: 'baileys', declared: true },
      { name: 'support', channel: 'baileys', declared: true },
    ]);
  });
});

describe('readDeclaredSessions', () => {
  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('reads what the operator writes', async () => {
    const path = await file(
      'ok.json',
      JSON.stringify([
        {
          name: 'meta',
          channel: 'cloud-api',
          phoneNumberId: '1234567890',
          credentials: {
            accessToken: 'secret://file/var/run/secrets/switchboard/sessions/meta/accessToken',
            appSecret: 'secret://file/var/run/secrets/switchboard/sessions/meta/appSecret',
            verifyToken: 'secret://file/var/run/secrets/switchboard/sessions/meta/verifyToken',
          },
        },
      ]),
    );
    expect(await readDeclaredSessions(path)).toMatchObject([{ name: 'meta', channel: 'cloud-api' }]);
  });

  it.each([
    ['missing.json', undefined, /cannot read the sessions file .*missing\.json/],
    ['broken.json', '[{', /is not JSON/],
    [
      'dupes.json',
      JSON.stringify([
        { name: 'a', channel: 'baileys' },
        { name: 'a', channel: 'baileys' },
      ]),
      /\[1\.name\] duplicate session a/,
    ],
    [
      'extra.json',
      JSON.stringify([{ name: 'a', channel: 'baileys', token: 'x' }]),
      /invalid: \[0\] Unrecognized key: "token"/,
    ],
    [
      'plain.json',
      JSON.stringify([
        {
          name: 'a',
          channel: 'cloud-api',
          credentials: { accessToken: 'EAAB', appSecret: 'x', verifyToken: 'y' },
        },
      ]),
      /\[0\.credentials\.accessToken\]/,
    ],
  ])('refuses %s with a message naming what is wrong', async (name, text, message) => {
    const path = text === undefined ? join(dir, name) : await file(name, text);
    const error = await readDeclaredSessions(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeclaredSessionsError);
    expect((error as Error).message).toMatch(message);
    // A credential value that is not a reference is never echoed.
    expect((error as Error).message).not.toContain('EAAB');
  });
});

// WhatsApp groups across the API and the worker: the real API (buildApp over a real Postgres and
// Redis) asks, through the session's command queue (real BullMQ), the worker's consumer holding a
// Baileys channel whose socket is the stand-in (Baileys' own event buffer and protos; the stand-in
// plays WhatsApp's group server). The worker's group handler stores what the channel emits, the
// inbound store files group messages, and the outbound consumer sends to the group's JID.
import { randomBytes } from 'node:crypto';
import { createStandInChannel, type StandInChannel } from '@switchboard/channels/baileys/testing';
import { createDb, type Db, ensureTenant, withTenant } from '@switchboard/db';
import { NO_HUMAN_DELAY, OutboundConsumer, storeInbound, tenantKeyPrefix } from '@switchboard/messaging';
import { hashPassword } from '@switchboard/passwords';
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  redisOptions,
  type TestDatabase,
} from '@switchboard/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../services/api/src/app.ts';
import { GroupEventHandler } from '../services/worker/src/groups.ts';
import { SessionCommandConsumer } from '../services/worker/src/session-commands.ts';

const SCRYPT = { N: 1024, r: 8, p: 1 };
const PASSWORD = 'groups password 1';
const slug = `groups-${randomBytes(3).toString('hex')}`;
const keyPrefix = tenantKeyPrefix(slug);
const identity = { phoneNumber: '5511900000042', lid: '500000000000042' };
const ANA = '5511977770001';
const BRUNO = '5511977770002';
const BRUNO_LID = '600000000000002';

let database: TestDatabase;
let db: Db;
let redis: Redis;
let workerRedis: Redis;
let app: FastifyInstance;
let tenantId: string;
let sessionId: string;
let cloudSessionId: string;
let token: string;
let t: StandInChannel;
let commands: SessionCommandConsumer;
let outbound: OutboundConsumer;
const detach: (() => void)[] = [];
const stored: Promise<unknown>[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ label: 'groups' });
  db = createDb({ databaseUrl: database.appUrl, applicationName: 'groups-test' });
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: 1 });
  workerRedis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  tenantId = await ensureTenant(db, { slug, displayName: 'Groups Co' });
  const passwordHash = await hashPassword(PASSWORD, SCRYPT);
  await withTenant(db, tenantId, async (tx) => {
    const user = await tx.user.create({
      data: { tenantId, email: `admin@${slug}.test`, displayName: 'Admin', passwordHash },
    });
    await tx.membership.create({ data: { tenantId, userId: user.id, role: 'admin' } });
    sessionId = (
      await tx.session.create({
        data: {
          tenantId,
          name: 'phone',
          channel: 'baileys',
          state: 'connected',
          phoneNumber: identity.phoneNumber,
        },
      })
    ).id;
    cloudSessionId = (
      await tx.session.create({ data: { tenantId, name: 'cloud', channel: 'cloud_api', state: 'connected' } })
    ).id;
    // A contact the team named: group lines and participants show this name.
    const ana = await tx.contact.create({ data: { tenantId, displayName: 'Ana (Acme)' } });
    await tx.contactIdentity.create({ data: { tenantId, contactId: ana.id, kind: 'pn', value: ANA } });
    await tx.webhookSubscription.create({
      data: {
        tenantId,
        url: 'https://hooks.example/groups',
        events: ['group.participants_changed', 'group.updated'],
        secretRef: 'groups-test-secret',
      },
    });
  });
  app = await buildApp({
    db,
    redis,
    tenant: { slug, displayName: 'Groups Co' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    scrypt: SCRYPT,
    rateLimitPerMinute: 100_000,
    inboxDir: null,
  });
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { tenant: slug, email: `admin@${slug}.test`, password: PASSWORD },
  });
  token = (login.json() as { accessToken: string }).accessToken;

  // The worker's side of the session: the channel on the stand-in, its command consumer, the
  // group handler, the inbound store and the outbound consumer.
  t = await createStandInChannel({ redis: workerRedis, keyPrefix, sessionId, paired: identity });
  await t.channel.connect();
  (await t.standIn.socket(1)).open();
  await t.log.waitFor('state', (s) => s.state === 'connected');
  const groups = new GroupEventHandler({ db, tenantId });
  detach.push(groups.attach(sessionId, t.channel));
  detach.push(t.channel.on('message', (message) => void stored.push(storeInbound(db, tenantId, message))));
  commands = new SessionCommandConsumer({
    tenantId,
    sessionId,
    channel: t.channel,
    connection: workerRedis,
    keyPrefix,
  });
  await commands.start();
  outbound = new OutboundConsumer({
    db,
    tenantId,
    sessionId,
    epoch: 1n,
    channel: t.channel,
    connection: workerRedis,
    keyPrefix,
    humanDelay: NO_HUMAN_DELAY,
  });
  await outbound.start();
}, 120_000);

afterAll(async () => {
  for (const off of detach) off();
  await outbound?.close();
  await commands?.stop();
  await t?.channel.disconnect();
  await Promise.allSettled(stored);
  await app?.close();
  await deleteKeysWithPrefix(redis, keyPrefix);
  redis?.disconnect();
  workerRedis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
});

const auth = () => ({ authorization: `Bearer ${token}` });

/** Waits until `probe` answers something truthy (polling the database), or fails after 20 s. */
async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - started > 20_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const linesOf = (conversationId: string) =>
  withTenant(db, tenantId, (tx) =>
    tx.message.findMany({
      where: { conversationId, type: 'group_event' },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
  );

describe('WhatsApp groups through the API and the worker', () => {
  let group: string;
  let conversationId: string;

  it('files a group message in the group conversation with its sender and mentions, and stores the group', async () => {
    const server = t.standIn.current.groupServer;
    group = server.seed({
      subject: 'Acme support',
      owner: `${ANA}@s.whatsapp.net`,
      participants: [
        { jid: `${ANA}@s.whatsapp.net`, admin: 'superadmin' },
        { jid: `${BRUNO_LID}@lid`, alt: `${BRUNO}@s.whatsapp.net` },
        { jid: `${identity.phoneNumber}@s.whatsapp.net`, admin: 'admin' },
      ],
    }).id;
    const { wireMessage, messageId } = await import('@switchboard/channels/baileys/testing');
    const id = messageId();
    t.standIn.current.receive([
      wireMessage({
        key: {
          remoteJid: group,
          id,
          participant: `${BRUNO_LID}@lid`,
          participantAlt: `${BRUNO}@s.whatsapp.net`,
        },
        pushName: 'Bruno',
        message: {
          extendedTextMessage: {
            text: `@${ANA} the order is late`,
            contextInfo: { mentionedJid: [`${ANA}@s.whatsapp.net`] },
          },
        },
      }),
    ]);
    const row = await until('the group message', () =>
      withTenant(db, tenantId, (tx) => tx.message.findFirst({ where: { providerMessageId: id } })),
    );
    expect(row).toMatchObject({
      direction: 'inbound',
      body: `@${ANA} the order is late`,
      senderJid: `${BRUNO_LID}@lid`,
      senderPn: BRUNO,
      senderName: 'Bruno',
      mentions: [{ jid: `${ANA}@s.whatsapp.net`, pn: ANA }],
    });
    conversationId = row.conversationId;

    // The first sight read the group's info: GET /v1/groups/:group shows it, with the team's names.
    const info = await until('the stored group info', async () => {
      const res = await app.inject({ method: 'GET', url: `/v1/groups/${group}`, headers: auth() });
      const body = res.json() as { subject: string | null; participants: unknown[] };
      return res.statusCode === 200 && body.participants.length === 3 ? body : undefined;
    });
    expect(info).toMatchObject({
      id: group,
      subject: 'Acme support',
      participants: [
        { jid: `${ANA}@s.whatsapp.net`, phone: ANA, name: 'Ana (Acme)', role: 'superadmin' },
        { jid: `${BRUNO_LID}@lid`, phone: BRUNO, name: null, role: 'member' },
        { jid: `${identity.phoneNumber}@s.whatsapp.net`, phone: identity.phoneNumber, role: 'admin' },
      ],
    });

    // The conversation's history (what the thread reads) carries the sender and mentions.
    const history = await app.inject({
      method: 'GET',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: auth(),
    });
    expect(history.statusCode).toBe(200);
    const [first] = (history.json() as { items: Record<string, unknown>[] }).items;
    expect(first).toMatchObject({
      sender: { jid: `${BRUNO_LID}@lid`, pn: BRUNO, name: 'Bruno' },
      mentions: [{ jid: `${ANA}@s.whatsapp.net`, pn: ANA }],
    });
    const list = await app.inject({ method: 'GET', url: '/v1/conversations', headers: auth() });
    const listed = (list.json() as { items: { id: string; contact: { name: string | null } }[] }).items;
    expect(listed.find((c) => c.id === conversationId)?.contact.name).toBe('Acme support');
  });

  it('manages participants and the subject through the API; the notifications become lines and webhooks', async () => {
    const added = await app.inject({
      method: 'POST',
      url: `/v1/sessions/${sessionId}/groups/${group}/participants`,
      headers: auth(),
      payload: { action: 'add', participants: ['5511977770003', '5511977770009'] },
    });
    t.standIn.current.groupServer.refusals.set('5511977770009@s.whatsapp.net', '403');
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json()).toEqual({
      group,
      participants: [
        { phone: '5511977770003', status: 200, ok: true },
        { phone: '5511977770009', status: 200, ok: true },
      ],
    });
    const refused = await app.inject({
      method: 'POST',
      url: `/v1/sessions/${sessionId}/groups/${group}/participants`,
      headers: auth(),
      payload: { action: 'add', participants: ['5511977770009'] },
    });
    expect(refused.json()).toEqual({
      group,
      participants: [{ phone: '5511977770009', status: 403, ok: false }],
    });

    const promoted = await app.inject({
      method: 'POST',
      url: `/v1/sessions/${sessionId}/groups/${group}/participants`,
      headers: auth(),
      payload: { action: 'promote', participants: [ANA] },
    });
    expect(promoted.statusCode, promoted.body).toBe(200);
    const renamed = await app.inject({
      method: 'PATCH',
      url: `/v1/sessions/${sessionId}/groups/${group}`,
      headers: auth(),
      payload: { subject: 'Acme VIP support' },
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    // A participant leaves on their own phone.
    t.standIn.current.groupServer.notify({
      group,
      author: `${BRUNO_LID}@lid`,
      authorAlt: `${BRUNO}@s.whatsapp.net`,
      change: {
        action: 'leave',
        participants: [{ jid: `${BRUNO_LID}@lid`, alt: `${BRUNO}@s.whatsapp.net` }],
      },
    });

    const lines = await until('four group lines', async () => {
      const found = await linesOf(conversationId);
      return found.length >= 4 ? found : undefined;
    });
    expect(lines.map((l) => l.body)).toEqual([
      '+5511900000042 added +5511977770003 and +5511977770009',
      'Ana (Acme) is now an admin',
      '+5511900000042 changed the subject to “Acme VIP support”',
      '+5511977770002 left',
    ]);
    expect(lines.every((l) => l.direction === 'inbound' && l.providerMessageId?.startsWith('group-'))).toBe(
      true,
    );

    const deliveries = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findMany({ orderBy: { createdAt: 'asc' } }),
    );
    expect(deliveries.map((d) => d.eventType)).toEqual([
      'group.participants_changed',
      'group.participants_changed',
      'group.updated',
      'group.participants_changed',
    ]);
    expect((deliveries[0]!.payload as { data: unknown }).data).toMatchObject({
      sessionId,
      group,
      conversationId,
      messageId: lines[0]!.id,
      action: 'add',
      participants: [
        { jid: '5511977770003@s.whatsapp.net', phone: '5511977770003' },
        { jid: '5511977770009@s.whatsapp.net', phone: '5511977770009' },
      ],
      actor: { phone: identity.phoneNumber },
    });
    expect((deliveries[2]!.payload as { data: unknown }).data).toMatchObject({
      change: 'subject',
      subject: 'Acme VIP support',
    });

    // The stored group follows: subject, participants and roles.
    const info = (
      await app.inject({ method: 'GET', url: `/v1/groups/${group}`, headers: auth() })
    ).json() as {
      subject: string;
      participants: { phone: string | null; role: string }[];
    };
    expect(info.subject).toBe('Acme VIP support');
    expect(info.participants.map((p) => [p.phone, p.role])).toEqual([
      [ANA, 'superadmin'],
      [identity.phoneNumber, 'admin'],
      ['5511977770003', 'member'],
      ['5511977770009', 'member'],
    ]);
  });

  it('sends a text with mentions to the group conversation: to the group JID', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...auth(), 'idempotency-key': randomBytes(8).toString('hex') },
      payload: { conversationId, text: `@${ANA} done, thanks`, mentions: [ANA] },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ mentions: [{ pn: ANA }] });
    const sent = await until('the send', async () => t.standIn.current.sent.at(-1));
    expect(sent.jid).toBe(group);
    expect(sent.message.message?.extendedTextMessage?.contextInfo?.mentionedJid).toEqual([
      `${ANA}@s.whatsapp.net`,
    ]);
    const messageId = (res.json() as { id: string }).id;
    await until('the message sent', () =>
      withTenant(db, tenantId, (tx) => tx.message.findFirst({ where: { id: messageId, status: 'sent' } })),
    );

    // Mentions belong to groups: a direct conversation refuses them.
    const direct = await app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...auth(), 'idempotency-key': randomBytes(8).toString('hex') },
      payload: { sessionId, to: ANA, text: 'hi', mentions: [ANA] },
    });
    expect(direct.statusCode).toBe(400);
    expect(direct.json()).toMatchObject({ error: { code: 'validation_failed' } });
  });

  it('creates a group through the API, and answers clearly what cannot be done', async () => {
    const created = await app.inject({
      method: 'POST',
      url: `/v1/sessions/${sessionId}/groups`,
      headers: auth(),
      payload: { subject: 'Launch team', participants: [ANA, BRUNO] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json() as {
      id: string;
      subject: string;
      participants: { phone: string; role: string }[];
    };
    expect(body.subject).toBe('Launch team');
    expect(body.participants.map((p) => [p.phone, p.role])).toEqual([
      [identity.phoneNumber, 'superadmin'],
      [ANA, 'member'],
      [BRUNO, 'member'],
    ]);
    const line = await until('the creation line', () =>
      withTenant(db, tenantId, (tx) =>
        tx.message.findFirst({
          where: { type: 'group_event', conversation: { contact: { pushName: 'Launch team' } } },
        }),
      ),
    );
    expect(line.body).toBe('+5511900000042 created the group “Launch team”');

    const cloud = await app.inject({
      method: 'POST',
      url: `/v1/sessions/${cloudSessionId}/groups`,
      headers: auth(),
      payload: { subject: 'x', participants: [ANA] },
    });
    expect(cloud.statusCode).toBe(422);
    expect(cloud.json()).toMatchObject({ error: { code: 'channel_unsupported' } });
    expect((cloud.json() as { error: { message: string } }).error.message).toContain(
      'not supported on the Cloud API channel',
    );

    const unknown = await app.inject({
      method: 'POST',
      url: `/v1/sessions/${sessionId}/groups/120363999999999999@g.us/refresh`,
      headers: auth(),
    });
    expect(unknown.statusCode).toBe(404);

    const invalid = await app.inject({
      method: 'POST',
      url: `/v1/sessions/${sessionId}/groups/not-a-group/participants`,
      headers: auth(),
      payload: { action: 'kick', participants: ['+55 11'] },
    });
    expect(invalid.statusCode).toBe(400);

    await withTenant(db, tenantId, (tx) =>
      tx.session.update({ where: { id: sessionId }, data: { state: 'disconnected' } }),
    );
    const offline = await app.inject({
      method: 'PATCH',
      url: `/v1/sessions/${sessionId}/groups/${group}`,
      headers: auth(),
      payload: { subject: 'x' },
    });
    expect(offline.statusCode).toBe(409);
    expect(offline.json()).toMatchObject({ error: { code: 'conflict' } });
    expect((offline.json() as { error: { message: string } }).error.message).toContain('is not connected');
    await withTenant(db, tenantId, (tx) =>
      tx.session.update({ where: { id: sessionId }, data: { state: 'connected' } }),
    );
  });
});

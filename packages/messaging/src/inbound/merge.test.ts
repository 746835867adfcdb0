// PN/LID contact merges with real Postgres and Redis: by identity event, by a message carrying
// both, and under concurrent inbound traffic for both identities.
import { type Db, withTenant } from '@switchboard/db';
import { createTestDatabase, redisNamespace, redisOptions, type TestDatabase } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REALTIME_EVENT_FIELD, realtimeStreamKey } from '../contracts.ts';
import { inboundMessage, seedTenant } from '../testing/fixtures.ts';
import { storeInbound } from './messages.ts';
import { InboundPipeline } from './pipeline.ts';

let database: TestDatabase;
let db: Db;
let tenantId: string;
let sessions: string[];
let redis: Redis;
const namespace = redisNamespace('merge');
const keyPrefix = `${namespace.prefix}:`;
let pipeline: InboundPipeline;

beforeAll(async () => {
  database = await createTestDatabase({ label: 'messaging-merge' });
  const seeded = await seedTenant(database, 3);
  ({ db, tenantId } = seeded);
  sessions = seeded.sessionIds;
  redis = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
  pipeline = new InboundPipeline({ db, redis, tenantId, keyPrefix });
});

afterAll(async () => {
  await pipeline.close();
  redis.disconnect();
  await namespace.cleanup();
  await db.$disconnect();
  await database.drop();
});

async function contactOf(kind: 'pn' | 'lid', value: string): Promise<string | undefined> {
  const identity = await withTenant(db, tenantId, (tx) =>
    tx.contactIdentity.findFirst({ where: { kind, value } }),
  );
  return identity?.contactId;
}

async function conversationsOf(contactId: string) {
  return await withTenant(db, tenantId, (tx) =>
    tx.conversation.findMany({
      where: { contactId },
      include: { messages: true },
      orderBy: { createdAt: 'asc' },
    }),
  );
}

describe('PN/LID contact merge', () => {
  it('merges on an identity event: the older contact survives with every conversation and message', async () => {
    const [s0, s1, s2] = sessions as [string, string, string];
    const pn = '4918000000001';
    const lid = '810001';
    // The PN contact first (older): conversations in s0 and s1.
    await storeInbound(db, tenantId, inboundMessage(s0, 'MG-PN-1', { pn }));
    await storeInbound(db, tenantId, inboundMessage(s0, 'MG-PN-2', { pn }));
    await storeInbound(db, tenantId, inboundMessage(s1, 'MG-PN-3', { pn }));
    const older = (await contactOf('pn', pn))!;
    // Then the same person by LID: conversations in s0 (to fold in) and s2 (to move).
    await storeInbound(db, tenantId, inboundMessage(s0, 'MG-LID-1', { lid, pushName: 'Bea' }));
    await storeInbound(db, tenantId, inboundMessage(s2, 'MG-LID-2', { lid }));
    const newer = (await contactOf('lid', lid))!;
    expect(newer).not.toBe(older);
    const newerS0 = (await conversationsOf(newer)).find((c) => c.sessionId === s0)!;
    // The folded conversation was resolved and the surviving one is assigned to nobody: the
    // merged one is open (it has unread messages), so the result is open.
    await withTenant(db, tenantId, async (tx) => {
      const survivorS0 = await tx.conversation.findFirstOrThrow({
        where: { contactId: older, sessionId: s0 },
      });
      await tx.conversation.update({
        where: { id: survivorS0.id },
        data: { status: 'resolved', resolvedAt: new Date() },
      });
    });

    const result = await pipeline.handleIdentity({ sessionId: s0, pn, lid });
    expect(result).toMatchObject({
      outcome: 'merged',
      contactId: older,
      mergedContactId: newer,
      conversationsMerged: 1,
    });

    expect(await contactOf('pn', pn)).toBe(older);
    expect(await contactOf('lid', lid)).toBe(older);
    expect(
      await withTenant(db, tenantId, (tx) => tx.contact.findUnique({ where: { id: newer } })),
    ).toBeNull();
    const survivor = await withTenant(db, tenantId, (tx) =>
      tx.contact.findUniqueOrThrow({ where: { id: older } }),
    );
    expect(survivor.pushName).toBe('Bea');

    const conversations = await conversationsOf(older);
    expect(conversations.map((c) => c.sessionId).sort()).toEqual([s0, s1, s2].sort());
    const inS0 = conversations.find((c) => c.sessionId === s0)!;
    expect(inS0.messages.map((m) => m.providerMessageId).sort()).toEqual(['MG-LID-1', 'MG-PN-1', 'MG-PN-2']);
    expect(inS0.unreadCount).toBe(3);
    expect(inS0.status).toBe('open');
    expect(conversations.find((c) => c.sessionId === s2)!.messages.map((m) => m.providerMessageId)).toEqual([
      'MG-LID-2',
    ]);
    expect(
      await withTenant(db, tenantId, (tx) => tx.conversation.findUnique({ where: { id: newerS0.id } })),
    ).toBeNull();

    const audit = await withTenant(db, tenantId, (tx) =>
      tx.auditLogEntry.findMany({ where: { action: 'contact.merged', targetId: older } }),
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorType: 'system', actorId: null, targetType: 'contact' });
    expect(audit[0]!.metadata).toMatchObject({
      mergedContactId: newer,
      pn,
      lid,
      source: 'identity-event',
      conversationsMerged: 1,
      conversationsMoved: 1,
      messagesMoved: 1,
    });
    // The inbox hears about every conversation that changed (the folded one, to drop it).
    const updated = (await redis.xrange(realtimeStreamKey(keyPrefix), '-', '+'))
      .map(([, f]) => JSON.parse(f[f.indexOf(REALTIME_EVENT_FIELD) + 1]!))
      .filter((e) => e.type === 'conversation.updated')
      .map((e) => e.data.conversationId);
    expect(updated).toContain(newerS0.id);
    expect(updated).toContain(inS0.id);
  });

  it("moves the merged contact's labels, its folded conversation's labels and its opt-out to the survivor", async () => {
    const [s0, s1] = sessions as [string, string, string];
    const pn = '4918000000009';
    const lid = '810009';
    await storeInbound(db, tenantId, inboundMessage(s0, 'MG-L-PN', { pn }));
    const older = (await contactOf('pn', pn))!;
    await storeInbound(db, tenantId, inboundMessage(s0, 'MG-L-LID-1', { lid }));
    await storeInbound(db, tenantId, inboundMessage(s1, 'MG-L-LID-2', { lid }));
    const newer = (await contactOf('lid', lid))!;
    const folded = (await conversationsOf(newer)).find((c) => c.sessionId === s0)!;
    const [vip, churn] = await withTenant(db, tenantId, async (tx) => {
      const made = await Promise.all(
        ['merge vip', 'merge churn'].map((name) =>
          tx.label.create({ data: { tenantId, name, color: '#2563eb' } }),
        ),
      );
      const [a, b] = made as [(typeof made)[0], (typeof made)[0]];
      await tx.contactLabel.createMany({
        data: [
          { tenantId, contactId: older, labelId: a.id },
          { tenantId, contactId: newer, labelId: a.id },
          { tenantId, contactId: newer, labelId: b.id },
        ],
      });
      await tx.conversationLabel.create({ data: { tenantId, conversationId: folded.id, labelId: b.id } });
      // The older contact opted out and back in; the newer one opted out after that: out wins.
      const hourAgo = new Date(Date.now() - 3600_000);
      await tx.contactOptOut.create({
        data: {
          tenantId,
          contactId: older,
          keyword: 'STOP',
          optedOutAt: hourAgo,
          optedInAt: new Date(hourAgo.getTime() + 1000),
          optedInBy: 'START',
        },
      });
      await tx.contactOptOut.create({ data: { tenantId, contactId: newer, keyword: 'api' } });
      return [a, b];
    });

    expect(await pipeline.handleIdentity({ sessionId: s0, pn, lid })).toMatchObject({
      outcome: 'merged',
      contactId: older,
    });
    const after = await withTenant(db, tenantId, async (tx) => ({
      labels: (await tx.contactLabel.findMany({ where: { contactId: { in: [older, newer] } } })).map((r) => [
        r.contactId,
        r.labelId,
      ]),
      target: await tx.conversation.findFirstOrThrow({ where: { contactId: older, sessionId: s0 } }),
      conversationLabels: await tx.conversationLabel.findMany({ where: { labelId: churn!.id } }),
      optOuts: await tx.contactOptOut.findMany({ where: { contactId: { in: [older, newer] } } }),
    }));
    expect(after.labels.sort()).toEqual(
      [
        [older, vip!.id],
        [older, churn!.id],
      ].sort(),
    );
    expect(after.conversationLabels.map((r) => r.conversationId)).toEqual([after.target.id]);
    expect(after.optOuts).toHaveLength(1);
    expect(after.optOuts[0]).toMatchObject({ contactId: older, keyword: 'api', optedInAt: null });
  });

  it('merges when a message carries both identities, keeping the older (here the LID) contact', async () => {
    const [s0] = sessions as [string];
    const pn = '4918000000002';
    const lid = '810002';
    await storeInbound(db, tenantId, inboundMessage(s0, 'MB-LID', { lid }));
    await storeInbound(db, tenantId, inboundMessage(s0, 'MB-PN', { pn }));
    const older = (await contactOf('lid', lid))!;
    const stored = await pipeline.handleMessage(inboundMessage(s0, 'MB-BOTH', { pn, lid }));
    expect(stored.outcome === 'created' && stored.contactId).toBe(older);
    expect(await contactOf('pn', pn)).toBe(older);
    const conversations = await conversationsOf(older);
    expect(conversations).toHaveLength(1);
    expect(conversations[0]!.messages.map((m) => m.providerMessageId).sort()).toEqual([
      'MB-BOTH',
      'MB-LID',
      'MB-PN',
    ]);
    const audit = await withTenant(db, tenantId, (tx) =>
      tx.auditLogEntry.findFirstOrThrow({ where: { action: 'contact.merged', targetId: older } }),
    );
    expect(audit.metadata).toMatchObject({ source: 'message', sessionId: s0 });
  });

  it('ends with one contact and one conversation per session under concurrent messages and links', async () => {
    const [s0, s1] = sessions as [string, string];
    const pn = '4918000000003';
    const lid = '810003';
    await storeInbound(db, tenantId, inboundMessage(s0, 'MC-PN-0', { pn }));
    await storeInbound(db, tenantId, inboundMessage(s0, 'MC-LID-0', { lid }));
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      const session = i % 2 === 0 ? s0 : s1;
      work.push(pipeline.handleMessage(inboundMessage(session, `MC-PN-${i + 1}`, { pn })));
      work.push(pipeline.handleMessage(inboundMessage(session, `MC-LID-${i + 1}`, { lid })));
      if (i % 2 === 0)
        work.push(pipeline.handleMessage(inboundMessage(session, `MC-BOTH-${i}`, { pn, lid })));
      if (i % 3 === 0) work.push(pipeline.handleIdentity({ sessionId: session, pn, lid }));
    }
    await Promise.all(work);

    const contact = (await contactOf('pn', pn))!;
    expect(await contactOf('lid', lid)).toBe(contact);
    const conversations = await conversationsOf(contact);
    expect(conversations.map((c) => c.sessionId).sort()).toEqual([s0, s1].sort());
    const messages = conversations.flatMap((c) => c.messages.map((m) => m.providerMessageId!));
    expect(messages.filter((id) => id.startsWith('MC-'))).toHaveLength(2 + 20 + 5);
    expect(conversations.reduce((sum, c) => sum + c.unreadCount, 0)).toBe(27);
    // Exactly one merge happened, whichever transaction did it.
    const merges = await withTenant(db, tenantId, (tx) =>
      tx.auditLogEntry.findMany({ where: { action: 'contact.merged', targetId: contact } }),
    );
    expect(merges).toHaveLength(1);
  });
});

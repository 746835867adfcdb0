// Every event type of the catalogue through a real delivery: events recorded by their producers'
// transactions (storeInbound, applyReceipt, recordWebhookEvent), performed by the outbox relay,
// POSTed by the delivery worker to a loopback receiver, and each body received checked against
// the JSON Schema the API's OpenAPI document publishes for its type (Ajv, JSON Schema 2020-12),
// with its version header and a verified signature. Real Postgres, Redis and BullMQ.
import { randomUUID } from 'node:crypto';
import { type Db, withTenant } from '@switchboard/db';
import { freePort, redisNamespace } from '@switchboard/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumeAutomation, stopAutomation } from '../bot/automation.ts';
import { storeInbound } from '../inbound/messages.ts';
import { applyReceipt } from '../inbound/receipts.ts';
import { OutboxRelay } from '../outbox/relay.ts';
import { eventually, inboundMessage, queueOutboundText } from '../testing/fixtures.ts';
import {
  startWebhookDeliveries,
  startWebhookReceiver,
  type WebhookDeliveries,
  type WebhookReceiver,
} from '../testing/webhooks.ts';
import {
  isWebhookEventType,
  recordWebhookEvent,
  WEBHOOK_EVENT_TYPES,
  webhookBodyJsonSchema,
} from './events.ts';
import { verifyWebhookSignature, WEBHOOK_HEADERS } from './signature.ts';

const SECRET = 'whsec_events_0123456789';
const namespace = redisNamespace('wh-events');
const keyPrefix = `${namespace.prefix}:`;
let testbed: WebhookDeliveries;
let db: Db;
let tenantId: string;
let redis: Redis;
let receiver: WebhookReceiver;
let relay: OutboxRelay;

beforeAll(async () => {
  testbed = await startWebhookDeliveries({
    label: 'messaging-webhook-events',
    sessions: 1,
    namespace,
    retry: { attempts: 5, baseDelayMs: 20, maxDelayMs: 100, jitter: 0.2 },
    resolveSecret: async () => SECRET,
  });
  ({ db, tenantId, redis } = testbed);
  receiver = await startWebhookReceiver(await freePort());
  relay = new OutboxRelay({ db, redis, tenantId, keyPrefix });
});

afterAll(async () => {
  await relay?.close();
  await receiver?.close();
  await testbed?.stop();
});

describe('webhook events', () => {
  it('delivers every event type once, signed, versioned, valid against its published schema', async () => {
    const port = (receiver.server.address() as { port: number }).port;
    const sessionId = await withTenant(db, tenantId, async (tx) => {
      await tx.webhookSubscription.create({
        data: { tenantId, url: `http://127.0.0.1:${port}/all`, events: ['*'], secretRef: 'events' },
      });
      await tx.webhookSubscription.create({
        data: {
          tenantId,
          url: `http://127.0.0.1:${port}/status`,
          events: ['message.status'],
          secretRef: 'events',
        },
      });
      return (await tx.session.findFirstOrThrow()).id;
    });

    // message.received: a customer's message.
    const inbound = await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'IN-1', { pn: '4915100000001' }),
    );
    if (inbound.outcome !== 'created') throw new Error(`not stored: ${inbound.outcome}`);
    // message.sent: an echo of a message sent from the phone.
    await storeInbound(
      db,
      tenantId,
      inboundMessage(sessionId, 'ECHO-1', { pn: '4915100000001' }, undefined, { fromMe: true }),
    );
    // message.status: delivered then read; a late delivered after read changes nothing; failed with its reason.
    const sent = await queueOutboundText(db, tenantId, sessionId, '4915100000001', 'hi');
    const failed = await queueOutboundText(db, tenantId, sessionId, '4915100000001', 'bye');
    await withTenant(db, tenantId, async (tx) => {
      await tx.message.update({ where: { id: sent }, data: { status: 'sent', providerMessageId: 'OUT-1' } });
      await tx.message.update({
        where: { id: failed },
        data: { status: 'sent', providerMessageId: 'OUT-2' },
      });
    });
    const receipt = { sessionId, chat: '4915100000001@s.whatsapp.net', fromMe: true };
    for (const status of ['delivered', 'read', 'delivered'] as const)
      await applyReceipt(db, tenantId, { ...receipt, providerMessageId: 'OUT-1', status });
    await applyReceipt(db, tenantId, {
      ...receipt,
      providerMessageId: 'OUT-2',
      status: 'failed',
      failure: { code: 131026, title: 'Message undeliverable' },
    });
    // The other producers (worker session states, API conversation changes) call recordWebhookEvent.
    const conversation = await withTenant(db, tenantId, (tx) =>
      tx.conversation.findUniqueOrThrow({ where: { id: inbound.conversationId } }),
    );
    const data = {
      conversationId: conversation.id,
      sessionId,
      contactId: conversation.contactId,
      status: 'open' as const,
      assigneeId: null,
    };
    await withTenant(db, tenantId, async (tx) => {
      await recordWebhookEvent(tx, tenantId, {
        type: 'session.state_changed',
        data: { sessionId, state: 'logged_out', reason: 'loggedOut' },
      });
      await recordWebhookEvent(tx, tenantId, {
        type: 'conversation.assigned',
        data: { ...data, previousAssigneeId: null },
      });
      await recordWebhookEvent(tx, tenantId, {
        type: 'conversation.resolved',
        data: { ...data, status: 'resolved' },
      });
      await recordWebhookEvent(tx, tenantId, { type: 'conversation.reopened', data });
      // services/worker calls.ts records this one with the call line it adds (tested there).
      await recordWebhookEvent(tx, tenantId, {
        type: 'call.received',
        data: {
          sessionId,
          callId: 'CALL-1',
          from: '4915100000001',
          isVideo: false,
          outcome: 'missed',
          conversationId: conversation.id,
          messageId: inbound.messageId,
          at: new Date().toISOString(),
        },
      });
      // groups/store.ts records these with the group's line (tested in test/groups.test.ts).
      const group = { sessionId, group: '120363000000000001@g.us', conversationId: conversation.id };
      await recordWebhookEvent(tx, tenantId, {
        type: 'group.participants_changed',
        data: {
          ...group,
          messageId: inbound.messageId,
          action: 'add',
          participants: [{ jid: '4915100000002@s.whatsapp.net', phone: '4915100000002' }],
          actor: { jid: '4915100000001@s.whatsapp.net', phone: '4915100000001' },
          at: new Date().toISOString(),
        },
      });
      await recordWebhookEvent(tx, tenantId, {
        type: 'group.updated',
        data: {
          ...group,
          messageId: inbound.messageId,
          change: 'subject',
          subject: 'Team',
          at: new Date().toISOString(),
        },
      });
      // Labels and campaigns (services/api labels.ts, services/worker campaigns.ts; tested there too).
      const label = { labelId: randomUUID(), name: 'vip', color: '#d97706' };
      await recordWebhookEvent(tx, tenantId, {
        type: 'label.applied',
        data: { ...label, targetType: 'conversation', targetId: conversation.id },
      });
      await recordWebhookEvent(tx, tenantId, {
        type: 'label.removed',
        data: { ...label, targetType: 'contact', targetId: conversation.contactId },
      });
      const counts = {
        total: 2,
        pending: 0,
        queued: 0,
        sent: 1,
        delivered: 0,
        read: 0,
        failed: 0,
        skipped: 1,
      };
      await recordWebhookEvent(tx, tenantId, {
        type: 'campaign.progress',
        data: { campaignId: randomUUID(), status: 'running', ...counts },
      });
      await recordWebhookEvent(tx, tenantId, {
        type: 'campaign.completed',
        data: { campaignId: randomUUID(), status: 'completed', ...counts },
      });
      // The automation hand-off and its end, recorded by the functions the bot, the assistant and
      // the API change it with.
      expect((await stopAutomation(tx, tenantId, conversation.id, 'keyword')).changed).toBe(true);
      expect((await resumeAutomation(tx, tenantId, conversation.id)).changed).toBe(true);
    });
    // A malformed event aborts its transaction: nothing of it is kept.
    await expect(
      withTenant(db, tenantId, (tx) =>
        recordWebhookEvent(tx, tenantId, {
          type: 'session.state_changed',
          data: { sessionId, state: 'exploded' as 'connected' },
        }),
      ),
    ).rejects.toThrow();

    // The relay performs the outbox (as the worker's would after these commits), then the deliveries go out.
    await relay.drain({ graceMs: 0 });
    await testbed.worker.start();
    const expected = { all: 18, status: 3 };
    await eventually(() => receiver.received.length >= expected.all + expected.status);
    // Nothing more arrives: every delivery row is succeeded and there are exactly as many. (The
    // worker marks a row succeeded after the receiver's answer: the last one may still be on its way.)
    const deliveries = () => withTenant(db, tenantId, (tx) => tx.webhookDelivery.findMany());
    await eventually(async () => (await deliveries()).every((r) => r.status === 'succeeded'));
    const rows = await deliveries();
    expect(rows.length).toBe(expected.all + expected.status);
    expect(rows.every((r) => r.status === 'succeeded')).toBe(true);
    expect(receiver.received.length).toBe(expected.all + expected.status);

    const ajv = new Ajv2020({ strict: false, allErrors: true })
      .addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
      .addFormat('date-time', (value: string) => /T/.test(value) && !Number.isNaN(Date.parse(value)));
    const seen = new Set<string>();
    for (const request of receiver.received) {
      const type = request.headers[WEBHOOK_HEADERS.eventType.toLowerCase()] as string;
      expect(isWebhookEventType(type), type).toBe(true);
      if (!isWebhookEventType(type)) continue;
      seen.add(type);
      const body = JSON.parse(request.body);
      const validate = ajv.compile(webhookBodyJsonSchema(type));
      expect(validate(body), `${type}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(body.type).toBe(type);
      expect(request.headers[WEBHOOK_HEADERS.eventVersion.toLowerCase()]).toBe('1');
      expect(request.headers[WEBHOOK_HEADERS.eventId.toLowerCase()]).toBe(body.id);
      expect(
        verifyWebhookSignature({
          secret: SECRET,
          timestamp: request.headers[WEBHOOK_HEADERS.timestamp.toLowerCase()] as string,
          signature: request.headers[WEBHOOK_HEADERS.signature.toLowerCase()] as string,
          rawBody: request.body,
        }).ok,
      ).toBe(true);
      if (request.path === '/status') expect(type).toBe('message.status');
    }
    // Every type of the catalogue was emitted and delivered; none outside it.
    expect([...seen].sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    const statuses = receiver.received
      .filter((r) => r.path === '/status')
      .map((r) => JSON.parse(r.body).data as { messageId: string; status: string; reason?: string });
    expect(statuses.map((s) => [s.messageId, s.status]).sort()).toEqual(
      [
        [sent, 'delivered'],
        [sent, 'read'],
        [failed, 'failed'],
      ].sort(),
    );
    expect(statuses.find((s) => s.status === 'failed')?.reason).toBe('131026 Message undeliverable');
  });
});

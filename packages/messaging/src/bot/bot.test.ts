// Session bots against real Postgres, Redis and BullMQ, with a local flow engine (node:http on
// 127.0.0.1) that checks every delivery's signature on the raw bytes it received and answers
// what each test scripts: the round trip (customer message -> engine -> one reply queued, even
// when the delivery is retried or run twice), hand-off by the engine's answer and by keyword,
// the restart keyword, conversations with an assignee never delivered, bad answers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Db, withTenant } from '@switchboard/db';
import { redisNamespace } from '@switchboard/testing';
import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES, queuePrefix } from '../contracts.ts';
import { storeInbound } from '../inbound/messages.ts';
import { eventually, inboundMessage } from '../testing/fixtures.ts';
import { startWebhookDeliveries, type WebhookDeliveries } from '../testing/webhooks.ts';
import type { WebhookRetryPolicy } from '../webhooks/schedule.ts';
import { verifyWebhookSignature, WEBHOOK_HEADERS } from '../webhooks/signature.ts';
import { BOT_EVENT_TYPE, type BotDeliveryPayload } from './answer.ts';
import { BotDeliveryWorker } from './delivery-worker.ts';
import { dispatchToBot } from './dispatch.ts';

const SECRET = 'botsec_0123456789abcdef';
const fast: WebhookRetryPolicy = { attempts: 5, baseDelayMs: 20, maxDelayMs: 100, jitter: 0.2 };
const namespace = redisNamespace('bot');
const keyPrefix = `${namespace.prefix}:`;

let testbed: WebhookDeliveries;
let db: Db;
let tenantId: string;
let sessionId: string;
let redis: Redis;
let worker: BotDeliveryWorker;
let engine: Server;
let engineUrl: string;
let outbound: Queue;

/** What the engine answers a verified delivery (by the customer's text), and how often it was asked. */
type Script = (payload: BotDeliveryPayload, attempt: number) => { status: number; body?: string };
const scripts = new Map<string, Script>();
const asked = new Map<string, number>();
let refused = 0;

beforeAll(async () => {
  testbed = await startWebhookDeliveries({
    label: 'messaging-bot',
    sessions: 1,
    namespace,
    retry: fast,
    resolveSecret: async () => SECRET,
  });
  ({ db, tenantId, redis } = testbed);
  sessionId = (await withTenant(db, tenantId, (tx) => tx.session.findFirstOrThrow())).id;
  engine = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const verified = verifyWebhookSignature({
        secret: SECRET,
        timestamp: request.headers[WEBHOOK_HEADERS.timestamp.toLowerCase()] as string | undefined,
        signature: request.headers[WEBHOOK_HEADERS.signature.toLowerCase()] as string | undefined,
        rawBody,
      });
      if (!verified.ok || request.headers[WEBHOOK_HEADERS.eventType.toLowerCase()] !== BOT_EVENT_TYPE) {
        refused++;
        response.writeHead(401).end();
        return;
      }
      const payload = JSON.parse(rawBody) as BotDeliveryPayload;
      const text = payload.data.message.body ?? '';
      const attempt = (asked.get(text) ?? 0) + 1;
      asked.set(text, attempt);
      const answer = (scripts.get(text) ?? (() => ({ status: 200, body: '' })))(payload, attempt);
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
  engineUrl = `http://127.0.0.1:${(engine.address() as AddressInfo).port}/flows/support`;
  await withTenant(db, tenantId, (tx) =>
    tx.sessionBotSettings.create({
      data: {
        tenantId,
        sessionId,
        enabled: true,
        url: engineUrl,
        secretRef: 'secret://bot',
        handoffKeyword: 'Agent',
        restartKeyword: 'bot',
      },
    }),
  );
  worker = new BotDeliveryWorker({
    db,
    connection: redis,
    keyPrefix,
    retry: fast,
    timeoutMs: 5_000,
    allowedHosts: ['127.0.0.1'],
    resolveSecret: async (settings) => {
      expect(settings.secretRef).toBe('secret://bot');
      return SECRET;
    },
  });
  await worker.start(tenantId);
  outbound = new Queue(QUEUE_NAMES.outbound(sessionId), {
    connection: redis,
    prefix: queuePrefix(keyPrefix),
  });
});

afterAll(async () => {
  await worker?.close();
  await outbound?.close();
  await new Promise<void>((resolve) => (engine ? engine.close(() => resolve()) : resolve()));
  await testbed?.stop();
});

let counter = 0;
/** Stores a customer's text from `pn` and dispatches it; answers the message id and the outcome. */
async function customerSays(pn: string, text: string) {
  const stored = await storeInbound(
    db,
    tenantId,
    inboundMessage(sessionId, `BOT-${++counter}`, { pn, pushName: 'Rui' }, { type: 'text', text }),
  );
  if (stored.outcome !== 'created') throw new Error(`not stored: ${stored.outcome}`);
  const dispatched = await dispatchToBot(db, tenantId, stored.messageId);
  if (dispatched.outcome === 'queued') await worker.enqueue(tenantId, dispatched.deliveryId);
  return { messageId: stored.messageId, ...dispatched };
}

async function conversationOf(pn: string) {
  return await withTenant(db, tenantId, async (tx) => {
    const identity = await tx.contactIdentity.findFirstOrThrow({ where: { kind: 'pn', value: pn } });
    return await tx.conversation.findFirstOrThrow({ where: { contactId: identity.contactId } });
  });
}

async function automatedReplies(conversationId: string) {
  return await withTenant(db, tenantId, (tx) =>
    tx.message.findMany({ where: { conversationId, direction: 'outbound' }, orderBy: { createdAt: 'asc' } }),
  );
}

async function deliveryOf(messageId: string) {
  return await withTenant(db, tenantId, (tx) =>
    tx.botDelivery.findUnique({ where: { tenantId_messageId: { tenantId, messageId } } }),
  );
}

describe('the round trip', () => {
  it("delivers a customer's message signed and sends the engine's reply once, marked automated", async () => {
    const seen: BotDeliveryPayload[] = [];
    scripts.set('Hi, my order is late', (payload) => {
      seen.push(payload);
      return {
        status: 200,
        body: JSON.stringify({ replies: [{ type: 'text', text: 'Sorry! What is the order number?' }] }),
      };
    });
    const sent = await customerSays('351910000101', 'Hi, my order is late');
    expect(sent.outcome).toBe('queued');
    await eventually(async () => (await deliveryOf(sent.messageId))?.status === 'succeeded');
    const conversation = await conversationOf('351910000101');
    const replies = await automatedReplies(conversation.id);
    expect(replies.map((r) => [r.body, r.automatedBy, r.status, r.idempotencyKey])).toEqual([
      ['Sorry! What is the order number?', 'bot', 'queued', `bot:${sent.messageId}:0`],
    ]);
    // Its send is on the session's outbound queue (the normal path: limits, typing delay, exactly once).
    expect(await outbound.getJob(`send-${replies[0]!.id}`)).toBeDefined();
    const delivery = await deliveryOf(sent.messageId);
    expect(delivery).toMatchObject({ attempts: 1, responseCode: 200, replies: 1, lastError: null });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      id: delivery!.id,
      type: 'bot.message',
      data: {
        sessionId,
        conversationId: conversation.id,
        message: { id: sent.messageId, type: 'text', body: 'Hi, my order is late' },
        contact: { name: 'Rui', phoneNumber: '351910000101' },
      },
    });
    expect(refused).toBe(0);
  });

  it('retries a failed attempt and still sends each reply once, also when the delivery runs twice', async () => {
    scripts.set('Order 4711', (_payload, attempt) =>
      attempt === 1
        ? { status: 503 }
        : {
            status: 200,
            body: JSON.stringify({
              replies: [
                { type: 'text', text: 'Found it.' },
                { type: 'text', text: 'It ships tomorrow.' },
              ],
            }),
          },
    );
    const sent = await customerSays('351910000102', 'Order 4711');
    await eventually(async () => (await deliveryOf(sent.messageId))?.status === 'succeeded');
    expect(await deliveryOf(sent.messageId)).toMatchObject({ attempts: 2, replies: 2 });
    // A stalled job run again by two workers at once, after the first run committed: the engine
    // answers both, the idempotency keys keep one message per reply.
    const delivery = (await deliveryOf(sent.messageId))!;
    await withTenant(db, tenantId, (tx) =>
      tx.botDelivery.update({ where: { id: delivery.id }, data: { status: 'pending' } }),
    );
    const job = {
      id: `bot-${delivery.id}`,
      data: { tenantId, deliveryId: delivery.id },
      opts: { attempts: 1 },
      attemptsMade: 0,
    } as unknown as Job;
    const outcomes = await Promise.all([worker.process(job), worker.process(job)]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['answered', 'answered']);
    expect(asked.get('Order 4711')).toBe(4);
    const replies = await automatedReplies((await conversationOf('351910000102')).id);
    expect(replies.map((r) => r.body)).toEqual(['Found it.', 'It ships tomorrow.']);
    for (const reply of replies) expect(await outbound.getJob(`send-${reply.id}`)).toBeDefined();
  });

  it('fails a delivery whose answer is not the documented JSON, without retrying it', async () => {
    scripts.set('Hello?', () => ({ status: 200, body: JSON.stringify({ replies: [{ type: 'image' }] }) }));
    const sent = await customerSays('351910000103', 'Hello?');
    await eventually(async () => (await deliveryOf(sent.messageId))?.status === 'failed');
    const delivery = await deliveryOf(sent.messageId);
    expect(delivery?.attempts).toBe(1);
    expect(delivery?.lastError).toMatch(/^the answer is invalid: replies\.0\.type/);
    expect(await automatedReplies((await conversationOf('351910000103')).id)).toEqual([]);
  });
});

describe('hand-off', () => {
  it("stops the bot when the engine's answer hands off, after its replies", async () => {
    scripts.set('I want to cancel', () => ({
      status: 200,
      body: JSON.stringify({
        replies: [{ type: 'text', text: 'A colleague will take over.' }],
        handoff: true,
      }),
    }));
    const sent = await customerSays('351910000104', 'I want to cancel');
    await eventually(async () => (await deliveryOf(sent.messageId))?.status === 'succeeded');
    const conversation = await conversationOf('351910000104');
    expect(conversation).toMatchObject({ assigneeId: null, status: 'open', automationStoppedReason: 'bot' });
    expect(conversation.automationStoppedAt).not.toBeNull();
    expect((await automatedReplies(conversation.id)).map((r) => r.body)).toEqual([
      'A colleague will take over.',
    ]);
    // The customer's next message is the team's: not delivered.
    const next = await customerSays('351910000104', 'Hello?? anyone');
    expect(next.outcome).toBe('stopped');
    expect(await deliveryOf(next.messageId)).toBeNull();
  });

  it('hands off on the keyword (any case), then the restart keyword restarts the bot', async () => {
    const first = await customerSays('351910000105', 'Hi, my order is late');
    await eventually(async () => (await deliveryOf(first.messageId))?.status === 'succeeded');
    const handoff = await customerSays('351910000105', '  AGENT ');
    expect(handoff.outcome).toBe('handed-off');
    expect(await deliveryOf(handoff.messageId)).toBeNull();
    let conversation = await conversationOf('351910000105');
    expect(conversation).toMatchObject({ assigneeId: null, automationStoppedReason: 'keyword' });
    const audit = await withTenant(db, tenantId, (tx) =>
      tx.auditLogEntry.findMany({ where: { targetId: conversation.id }, orderBy: { at: 'asc' } }),
    );
    expect(audit.map((a) => [a.action, a.actorType])).toEqual([
      ['conversation.automation_stopped', 'system'],
    ]);

    expect((await customerSays('351910000105', 'still there?')).outcome).toBe('stopped');
    expect((await customerSays('351910000105', 'Bot')).outcome).toBe('restarted');
    conversation = await conversationOf('351910000105');
    expect(conversation.automationStoppedAt).toBeNull();
    const again = await customerSays('351910000105', 'Order 4711');
    expect(again.outcome).toBe('queued');
    await eventually(async () => (await deliveryOf(again.messageId))?.status === 'succeeded');
  });
});

describe('conversations an agent has', () => {
  it('are not delivered, also when the agent took it after the dispatch', async () => {
    const first = await customerSays('351910000106', 'Hi, my order is late');
    await eventually(async () => (await deliveryOf(first.messageId))?.status === 'succeeded');
    const conversation = await conversationOf('351910000106');
    const agent = await withTenant(db, tenantId, (tx) =>
      tx.user.create({ data: { tenantId, email: `agent-${counter}@example.com`, displayName: 'Ana' } }),
    );
    // Dispatched while nobody had it, taken before the attempt: skipped, the engine never asked.
    const stored = await storeInbound(
      db,
      tenantId,
      inboundMessage(
        sessionId,
        `BOT-${++counter}`,
        { pn: '351910000106' },
        { type: 'text', text: 'taken later' },
      ),
    );
    if (stored.outcome !== 'created') throw new Error('not stored');
    const dispatched = await dispatchToBot(db, tenantId, stored.messageId);
    expect(dispatched.outcome).toBe('queued');
    await withTenant(db, tenantId, (tx) =>
      tx.conversation.update({ where: { id: conversation.id }, data: { assigneeId: agent.id } }),
    );
    if (dispatched.outcome === 'queued') await worker.enqueue(tenantId, dispatched.deliveryId);
    await eventually(async () => (await deliveryOf(stored.messageId))?.status === 'skipped');
    expect(asked.get('taken later')).toBeUndefined();
    // Assigned: not even dispatched.
    const later = await customerSays('351910000106', 'are you there');
    expect(later.outcome).toBe('taken');
    expect(await deliveryOf(later.messageId)).toBeNull();
  });
});

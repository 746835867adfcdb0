// Read receipts, interactive messages and the typing indicator in real Chromium against the real
// stack (packages/devstack: the API serving this build, a worker, Postgres, Redis and the Cloud
// API emulator as the customer's phone). Opening a conversation marks exactly the customer's
// unread messages read at the emulator, once each; an interactive message sent through the API
// and the customer's button pick show in the thread; a `conversation.typing` event on the
// tenant's realtime stream (what the worker publishes for a Baileys session's presence) shows
// "typing…" until `paused`; the settings page switches read receipts off.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { publishRealtimeEvent } from '@switchboard/messaging/producer';
import { redisOptions } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { customerSends, sentTo, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let emulatorUrl: string;
const CUSTOMER = '15555550808';
const NAME = 'Iris Interactive';

beforeAll(async () => {
  bed = await startInboxTestbed('interact', (run) => ({
    tenants: [
      {
        slug: `interact-${run}`,
        displayName: 'Interactive Co',
        admin: {
          email: 'admin@interact.test',
          password: 'interact password 1',
          displayName: 'Ivo Interactive',
        },
        cloudApi: { phoneNumberId: '106540352242988', displayPhoneNumber: '15551230088' },
      },
    ],
    statuses: { mode: 'manual' },
  }));
  tenant = bed.stack.tenants[0]!;
  emulatorUrl = tenant.cloudApi!.emulator.url;
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

/** The admin's bearer token (a login of its own). */
async function token(): Promise<string> {
  const login = await fetch(`${tenant.apiUrl}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tenant.admin),
  });
  return ((await login.json()) as { accessToken: string }).accessToken;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the API's JSON answers loosely.
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${tenant.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await token()}`,
      ...(body === undefined
        ? {}
        : { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

async function reads(): Promise<string[]> {
  const res = await fetch(`${emulatorUrl}/_emulator/reads`);
  return ((await res.json()) as { reads: { messageId: string }[] }).reads.map((r) => r.messageId);
}

describe('read receipts, interactive messages and typing', () => {
  it('opening the conversation marks exactly the unread customer messages read, once each', async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, tenant.admin);
    await customerSends(emulatorUrl, CUSTOMER, NAME, 'primeira');
    await customerSends(emulatorUrl, CUSTOMER, NAME, 'segunda');
    const row = page.getByRole('link', { name: new RegExp(`^${NAME}`) });
    await row.waitFor();
    // Both stored before the conversation is opened (the list shows 2 unread).
    await page.getByRole('link', { name: new RegExp(`^${NAME}, 2 unread`) }).waitFor();
    expect(await reads()).toEqual([]);
    await row.click();
    const thread = page.getByRole('list', { name: `Messages with ${NAME}` });
    await thread.getByText('segunda').waitFor();
    await expect.poll(reads, { timeout: 15_000 }).toHaveLength(2);
    const first = await reads();

    // A message arriving while the thread is open is marked too, and only it.
    await customerSends(emulatorUrl, CUSTOMER, NAME, 'terceira');
    await thread.getByText('terceira').waitFor();
    await expect.poll(reads, { timeout: 15_000 }).toHaveLength(3);
    const all = await reads();
    expect(all.slice(0, 2)).toEqual(first);
    expect(new Set(all).size).toBe(3);
  });

  it("shows an interactive message sent through the API and the customer's button pick", async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, tenant.admin);
    const list = await api('GET', '/v1/conversations?limit=10');
    const conversationId = list.json.items[0].id as string;

    // Over Meta's limits: refused, naming the field.
    const tooMany = await api('POST', '/v1/messages', {
      conversationId,
      type: 'interactive',
      interactive: {
        kind: 'button',
        body: 'Pick one',
        buttons: ['a', 'b', 'c', 'd'].map((id) => ({ id, title: id })),
      },
    });
    expect(tooMany.status).toBe(422);
    expect(tooMany.json.error.code).toBe('invalid_content');
    expect(tooMany.json.error.issues).toEqual([
      { path: 'body.interactive.buttons', message: 'at most 3 reply buttons' },
    ]);
    // Polls are a WhatsApp Web feature: 422 on this Cloud API session.
    const poll = await api('POST', '/v1/messages', {
      conversationId,
      type: 'poll',
      poll: { name: 'Lunch?', options: ['pizza', 'sushi'] },
    });
    expect(poll.status).toBe(422);
    expect(poll.json.error.code).toBe('channel_unsupported');

    const sent = await api('POST', '/v1/messages', {
      conversationId,
      type: 'interactive',
      interactive: {
        kind: 'button',
        body: 'Did the parcel arrive?',
        buttons: [
          { id: 'yes', title: 'Yes, thanks' },
          { id: 'no', title: 'Not yet' },
        ],
      },
    });
    expect(sent.status).toBe(201);
    expect(sent.json.interactive).toMatchObject({ kind: 'button' });

    await page.getByRole('link', { name: new RegExp(`^${NAME}`) }).click();
    const thread = page.getByRole('list', { name: `Messages with ${NAME}` });
    const offered = thread.getByRole('region', { name: 'Interactive message' });
    await offered.getByText('Did the parcel arrive?').waitFor();
    await offered.getByRole('list', { name: 'Reply buttons' }).getByText('Not yet').waitFor();

    // The worker sends it; the customer taps "Not yet" on the message WhatsApp delivered.
    await expect.poll(async () => (await sentTo(emulatorUrl, CUSTOMER)).length, { timeout: 15_000 }).toBe(1);
    // The tap names Meta's id of the message; the reply is linked to it once the worker recorded
    // that id with the send (its status leaves `queued`): wait for that, not only for Meta.
    await expect
      .poll(async () => {
        const page = await api('GET', `/v1/conversations/${conversationId}/messages?limit=50`);
        return page.json.items.find((m: { id: string }) => m.id === sent.json.id)?.status;
      })
      .not.toBe('queued');
    const [business] = await sentTo(emulatorUrl, CUSTOMER);
    const tap = await fetch(
      `${emulatorUrl}/_emulator/messages/${encodeURIComponent(business!.id)}/interactive-reply`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'no', name: NAME }),
      },
    );
    expect(tap.status).toBe(200);
    await thread.getByRole('region', { name: 'Tapped button: Not yet' }).waitFor();
    const history = await api('GET', `/v1/conversations/${conversationId}/messages?limit=50`);
    const reply = history.json.items.find((m: { type: string }) => m.type === 'interactive_reply');
    expect(reply).toMatchObject({
      direction: 'inbound',
      body: 'Not yet',
      interactive: { kind: 'button', id: 'no', title: 'Not yet' },
      replyToMessageId: sent.json.id,
    });
  });

  it('shows "typing…" while the customer types and clears it when they pause', async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, tenant.admin);
    const list = await api('GET', '/v1/conversations?limit=10');
    const conversation = list.json.items[0] as { id: string; sessionId: string };
    await page.getByRole('link', { name: new RegExp(`^${NAME}`) }).click();
    const thread = page.getByRole('list', { name: `Messages with ${NAME}` });
    await thread.getByText('primeira').waitFor();
    const typing = page.getByRole('status').filter({ hasText: 'typing…' });
    expect(await typing.count()).toBe(0);

    const redis = new Redis({
      ...redisOptions(),
      username: tenant.redisUsers.worker.username,
      password: tenant.redisUsers.worker.password,
    });
    try {
      const event = (state: 'typing' | 'paused') => ({
        type: 'conversation.typing' as const,
        at: new Date().toISOString(),
        data: { conversationId: conversation.id, sessionId: conversation.sessionId, state },
      });
      await publishRealtimeEvent(redis, tenant.keyPrefix, event('typing'));
      await typing.waitFor();
      await publishRealtimeEvent(redis, tenant.keyPrefix, event('paused'));
      await typing.waitFor({ state: 'detached' });
      // A message from the customer ends the typing too.
      await publishRealtimeEvent(redis, tenant.keyPrefix, event('typing'));
      await typing.waitFor();
      await customerSends(emulatorUrl, CUSTOMER, NAME, 'pronto, escrevi');
      await thread.getByText('pronto, escrevi').waitFor();
      await typing.waitFor({ state: 'detached' });
      // The open thread marked it read: four in all now.
      await expect.poll(reads, { timeout: 15_000 }).toHaveLength(4);
    } finally {
      redis.disconnect();
    }
  });

  it('an admin switches read receipts off in the settings', async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Settings' }).click();
    const section = page.getByRole('region', { name: 'Read receipts' });
    const box = section.getByRole('checkbox');
    await expect.poll(() => box.isChecked()).toBe(true);
    await box.uncheck();
    await expect
      .poll(async () => (await api('GET', '/v1/settings/read-receipts')).json)
      .toEqual({ enabled: false });

    // Off: a new message is not marked read when the conversation is opened. The API queues
    // the receipts before it answers the /read, so once that answer is in, nothing was queued.
    const before = await reads();
    await customerSends(emulatorUrl, CUSTOMER, NAME, 'sem recibo');
    await page.getByRole('link', { name: 'Inbox' }).click();
    const row = page.getByRole('link', { name: new RegExp(`^${NAME}`) });
    await row.waitFor();
    const answered = page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/v1\/conversations\/[^/]+\/read$/.test(r.url()),
    );
    await row.click();
    await page
      .getByRole('list', { name: `Messages with ${NAME}` })
      .getByText('sem recibo')
      .waitFor();
    expect((await answered).status()).toBe(200);
    const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
    try {
      const stored = await withTenant(db, tenant.tenantId, (tx) =>
        tx.message.findFirstOrThrow({ where: { body: 'sem recibo' } }),
      );
      expect(stored.channelReadAt).toBeNull();
    } finally {
      await db.$disconnect();
    }
    expect(await reads()).toEqual(before);
  });
});

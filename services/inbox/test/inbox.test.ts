// The inbox in real Chromium against the real stack (packages/devstack): API processes serving
// this build, a worker, Postgres, Redis and the Cloud API emulator as the customer's phone.
// Tenant A has the emulator and a worker; tenant B has neither: its conversation is seeded in its
// own database, and its Baileys session is held by a session runtime in this process over the
// stand-in socket, so the QR and the pairing are driven from here.
import { type BaileysStandIn, standInChannelFactory } from '@switchboard/channels/baileys/testing';
import { createDb, type Db, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { redisOptions } from '@switchboard/testing';
import { DisconnectReason } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import QRCode from 'qrcode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionRuntime } from '../../worker/src/session-runtime.ts';
import { customerSends, eventually, reportStatus, screenshot, sentTo, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let a: StackTenant;
let b: StackTenant;
let emulatorUrl: string;
let dbB: Db;
const ANA = '15555550101';
const DORA = '15555550404';
const open = (options?: { width?: number; height?: number }) => bed.open(options);

beforeAll(async () => {
  bed = await startInboxTestbed('inbox', (run) => ({
    tenants: [
      {
        slug: `acme-${run}`,
        displayName: 'Acme',
        admin: { email: 'admin@acme.test', password: 'acme password 1', displayName: 'Alice Agent' },
        cloudApi: { phoneNumberId: '106540352242922', displayPhoneNumber: '15551230000' },
      },
      {
        slug: `globex-${run}`,
        displayName: 'Globex',
        admin: { email: 'admin@globex.test', password: 'globex password 1', displayName: 'Gus Globex' },
        worker: false,
      },
    ],
    // Statuses are reported by the test, one at a time, so each tick can be seen.
    statuses: { mode: 'manual' },
  }));
  [a, b] = [bed.stack.tenants[0]!, bed.stack.tenants[1]!];
  emulatorUrl = a.cloudApi!.emulator.url;
  dbB = createDb({ databaseUrl: b.databaseUrl, maxConnections: 2 });
  // Tenant B's one conversation, written straight into B's database.
  await withTenant(dbB, b.tenantId, async (tx) => {
    const session = await tx.session.create({
      data: { tenantId: b.tenantId, name: 'seeded', channel: 'cloud_api' },
    });
    const contact = await tx.contact.create({ data: { tenantId: b.tenantId, displayName: 'Bruno Globex' } });
    await tx.contactIdentity.create({
      data: { tenantId: b.tenantId, contactId: contact.id, kind: 'pn', value: '15555550202' },
    });
    const conversation = await tx.conversation.create({
      data: { tenantId: b.tenantId, sessionId: session.id, contactId: contact.id },
    });
    await tx.message.create({
      data: {
        tenantId: b.tenantId,
        sessionId: session.id,
        conversationId: conversation.id,
        direction: 'inbound',
        status: 'delivered',
        type: 'text',
        body: 'Globex only',
      },
    });
  });
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await dbB?.$disconnect();
  await bed?.stop();
});

describe('the inbox', () => {
  it('shows a customer message live, replies once, moves the ticks, resolves, reopens and searches', async () => {
    const { page } = await open();
    await signIn(page, a.apiUrl, a.admin);
    await screenshot(page, 'empty-inbox');

    await customerSends(emulatorUrl, ANA, 'Ana Lima', 'Olá, preciso de ajuda');
    const row = page.getByRole('link', { name: /^Ana Lima/ });
    await row.waitFor();
    expect(await row.locator('.preview').textContent()).toBe('Olá, preciso de ajuda');
    expect(await row.getAttribute('aria-label')).toBe('Ana Lima, 1 unread');

    await row.click();
    const thread = page.getByRole('list', { name: 'Messages with Ana Lima' });
    await thread.getByText('Olá, preciso de ajuda').waitFor();
    // Opening it marks it read.
    await eventually(
      'the row shows no unread',
      async () => (await row.getAttribute('aria-label')) === 'Ana Lima',
    );

    // A second message arrives in the open thread without a reload.
    await customerSends(emulatorUrl, ANA, 'Ana Lima', 'Ainda está aí?');
    await thread.getByText('Ainda está aí?').waitFor();

    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('Olá Ana');
    await box.press('Shift+Enter');
    await box.pressSequentially('como posso ajudar?');
    await box.press('Enter');
    expect(await box.inputValue()).toBe('');
    const reply = thread.locator('li.bubble.outbound').filter({ hasText: 'como posso ajudar?' });
    await reply.waitFor();
    expect(await reply.locator('.body').textContent()).toBe('Olá Ana\ncomo posso ajudar?');

    // The customer's phone receives it exactly once.
    let sent: Awaited<ReturnType<typeof sentTo>> = [];
    await eventually('the reply reaches the customer', async () => {
      sent = await sentTo(emulatorUrl, ANA);
      return sent.length > 0;
    });
    expect(sent.map((m) => m.request.text?.body)).toEqual(['Olá Ana\ncomo posso ajudar?']);
    const wamid = sent[0]!.id;

    await reportStatus(emulatorUrl, wamid, 'sent');
    await reply.getByRole('img', { name: 'Status: sent' }).waitFor();
    await reportStatus(emulatorUrl, wamid, 'delivered');
    await reply.getByRole('img', { name: 'Status: delivered' }).waitFor();
    await reportStatus(emulatorUrl, wamid, 'read');
    await reply.getByRole('img', { name: 'Status: read' }).waitFor();
    await screenshot(page, 'thread');

    // Day separator above today's messages.
    await thread.locator('li.day').getByText('Today').waitFor();

    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.getByRole('button', { name: 'Reopen' }).waitFor();
    await page.getByRole('tab', { name: 'Resolved' }).click();
    await page.getByRole('link', { name: 'Ana Lima, resolved' }).waitFor();
    await page.getByRole('button', { name: 'Reopen' }).click();
    await page.getByRole('button', { name: 'Resolve' }).waitFor();
    await page.getByRole('tab', { name: 'Open' }).click();
    await page.getByRole('link', { name: 'Ana Lima' }).waitFor();

    // Contact panel: the number the customer wrote from.
    await page.getByRole('button', { name: 'Contact' }).click();
    const panel = page.getByRole('complementary', { name: 'Contact' });
    await panel.getByRole('list', { name: 'Phone numbers' }).getByText(`+${ANA}`).waitFor();
    await panel.getByRole('button', { name: 'Export contact data' }).waitFor();
    await panel
      .getByRole('textbox', { name: 'Notes' })
      .fill('Asked about order 1234; call back after 18:00.');
    await panel.getByRole('button', { name: 'Save' }).click();
    await panel.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await screenshot(page, 'contact-panel');
    await page.getByRole('button', { name: 'Close contact' }).click();
    // Stored, not just shown: a reopened panel reads the notes back from the API.
    await page.getByRole('button', { name: 'Contact' }).click();
    expect(await panel.getByRole('textbox', { name: 'Notes' }).inputValue()).toBe(
      'Asked about order 1234; call back after 18:00.',
    );
    await page.getByRole('button', { name: 'Close contact' }).click();

    // Esc goes back to the list; j/k move and Enter opens.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('Escape');
    await page.getByText('Select a conversation').waitFor();
    await page.getByRole('link', { name: 'Ana Lima' }).focus();
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await thread.waitFor();

    // Search by name and by number; a miss shows nothing.
    const search = page.getByRole('searchbox', { name: 'Search conversations' });
    await search.fill('zzz-nobody');
    await page.getByText('No conversations').waitFor();
    await search.fill('5555550101');
    await page.getByRole('link', { name: 'Ana Lima' }).waitFor();
    await search.fill('ana li');
    await page.getByRole('link', { name: 'Ana Lima' }).waitFor();
    await search.fill('');

    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByRole('table', { name: 'Members' }).getByText('admin@acme.test').waitFor();
    await screenshot(page, 'team');
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('textbox', { name: 'Name' }).fill('crm');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByRole('region', { name: 'New API key' });
    const key = await shown.locator('code').textContent();
    expect(key).toMatch(/^sbk_/);
    await screenshot(page, 'settings');
    await shown.getByRole('button', { name: 'Done' }).click();
    // Shown once: gone from the page, and the list has only the prefix.
    expect(await page.getByText(key!).count()).toBe(0);
    await page.getByRole('list', { name: 'API keys' }).getByText('crm').waitFor();

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // The refresh token was revoked and dropped: a reload stays signed out.
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  }, 90_000);

  it('works at phone width: one pane at a time, nothing wider than the screen', async () => {
    const { page } = await open({ width: 375, height: 740 });
    await signIn(page, a.apiUrl, a.admin);
    await customerSends(
      emulatorUrl,
      '15555550505',
      'Eva Phone',
      'uma mensagem bem comprida para ver se a bolha quebra a linha',
    );
    await page.getByRole('link', { name: /^Eva Phone/ }).click();
    await page
      .getByRole('list', { name: 'Messages with Eva Phone' })
      .getByText('uma mensagem bem comprida', { exact: false })
      .waitFor();
    expect(await page.getByRole('region', { name: 'Conversation list' }).isVisible()).toBe(false);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, 'phone-thread');
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await page.getByRole('link', { name: /^Eva Phone/ }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, 'phone-list');
  });

  it("keeps tenants apart: neither browser ever sees the other's conversations", async () => {
    const [pageA, pageB] = [(await open()).page, (await open()).page];
    await signIn(pageA, a.apiUrl, a.admin);
    await signIn(pageB, b.apiUrl, b.admin);
    await pageB.getByRole('link', { name: 'Bruno Globex' }).waitFor();

    // A live message for A reaches A's browser and not B's.
    await customerSends(emulatorUrl, '15555550303', 'Carla Acme', 'só para a Acme');
    await pageA.getByRole('link', { name: /^Carla Acme/ }).waitFor();
    const listB = pageB.getByRole('list', { name: 'Conversations' });
    expect(await listB.getByRole('link').allInnerTexts()).toEqual([expect.stringContaining('Bruno Globex')]);
    expect(await pageA.getByText('Bruno Globex').count()).toBe(0);
    expect(await pageA.getByText('Globex only').count()).toBe(0);
    // Searching for the other tenant's contact finds nothing.
    await pageA.getByRole('searchbox', { name: 'Search conversations' }).fill('Bruno');
    await pageA.getByText('No conversations').waitFor();
    await pageB.getByRole('searchbox', { name: 'Search conversations' }).fill('Carla');
    await pageB.getByText('No conversations').waitFor();
  });

  it('reconnects after the realtime connection drops and shows what arrived meanwhile', async () => {
    const watched = await open();
    const { page, context } = watched;
    const resumes: (string | undefined)[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/v1/realtime')) resumes.push(request.headers()['last-event-id']);
    });
    await signIn(page, a.apiUrl, a.admin);
    // One event after connecting, so the client holds an id to resume from.
    await customerSends(emulatorUrl, DORA, 'Dora Drop', 'antes da queda');
    await page.getByRole('link', { name: /^Dora Drop/ }).click();
    const thread = page.getByRole('list', { name: 'Messages with Dora Drop' });
    await thread.getByText('antes da queda').waitFor();

    watched.offline.value = true;
    await context.setOffline(true);
    await page.getByRole('status', { name: 'Realtime connection' }).getByText('Offline').waitFor();
    await customerSends(emulatorUrl, DORA, 'Dora Drop', 'enquanto você estava fora');
    // Stored by the worker while the browser was away (checked through the API, not the page).
    await eventually('the message is stored', async () => {
      const login = await fetch(`${a.apiUrl}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(a.admin),
      });
      const { accessToken } = (await login.json()) as { accessToken: string };
      const list = await fetch(`${a.apiUrl}/v1/conversations?search=Dora`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      const body = (await list.json()) as { items: { lastMessage: { body: string | null } | null }[] };
      return body.items[0]?.lastMessage?.body === 'enquanto você estava fora';
    });
    expect(await thread.getByText('enquanto você estava fora').count()).toBe(0);

    await context.setOffline(false);
    watched.offline.value = false;
    await thread.getByText('enquanto você estava fora').waitFor();
    await page.getByRole('status', { name: 'Realtime connection' }).getByText('Live').waitFor();
    // It resumed from the last event it had (the API replayed what it missed), not from "now".
    expect(resumes[0]).toBeUndefined();
    expect(resumes.at(-1)).toMatch(/^\d+-\d+$/);
  }, 60_000);

  it('shows the QR code of a Baileys session and then its paired state', async () => {
    const { page } = await open();
    await signIn(page, b.apiUrl, b.admin);
    await page.getByRole('link', { name: 'Sessions' }).click();
    const form = page.getByRole('form', { name: 'Add a number' });
    await form.getByRole('textbox', { name: 'Name' }).fill('phone-1');
    await form.getByRole('button', { name: 'Add number' }).click();
    const card = page.getByRole('listitem', { name: 'Session phone-1' });
    await card.getByRole('status', { name: 'State of phone-1' }).getByText('Not paired').waitFor();
    const sessionId = await withTenant(
      dbB,
      b.tenantId,
      async (tx) => (await tx.session.findFirstOrThrow({ where: { name: 'phone-1' } })).id,
    );

    // The worker's session runtime, here, over Baileys' stand-in socket.
    const redis = new Redis(redisOptions());
    const standIns = new Map<string, BaileysStandIn>();
    const runtimeErrors: string[] = [];
    const runtime = new SessionRuntime({
      redis,
      db: dbB,
      tenantId: b.tenantId,
      keyPrefix: b.keyPrefix,
      workerId: 'inbox-test-worker',
      maxSessions: 10,
      // Long enough that a busy machine never loses the lease mid-pairing (a new claim would open a
      // new channel over a new stand-in, and the test would be talking to the old one).
      leaseTtlMs: 20_000,
      onError: (error, context) =>
        runtimeErrors.push(`${JSON.stringify(context)}: ${(error as Error).message}`),
      createChannel: standInChannelFactory({
        redis,
        keyPrefix: b.keyPrefix,
        onStandIn: (sessionId, standIn) => standIns.set(sessionId, standIn),
      }),
    });
    try {
      runtime.start();
      await eventually('the runtime holds the session', () => standIns.has(sessionId), 15_000);
      const socket = await standIns.get(sessionId)!.socket(1, 10_000);
      const qr = socket.showQr();
      const image = card.getByRole('img', { name: 'QR code to pair phone-1' });
      await image.waitFor({ timeout: 20_000 }).catch(async (error: Error) => {
        const row = await withTenant(dbB, b.tenantId, (tx) =>
          tx.session.findUniqueOrThrow({ where: { id: sessionId } }),
        );
        const stored = await redis.get(`${b.keyPrefix}session:${sessionId}:pairing`);
        throw new Error(
          `${error.message}; session ${row.state} (${row.stateReason}); pairing record ${stored ? 'stored' : 'missing'}; the runtime reported: ${runtimeErrors.join(' | ') || 'nothing'}`,
        );
      });
      // The image encodes exactly the payload WhatsApp gave the socket: each module read back
      // from the rendered pixels matches the QR matrix of that payload.
      const matrix = QRCode.create(qr, { errorCorrectionLevel: 'L' }).modules;
      const expected = Array.from(matrix.data, (dark) => (dark ? 1 : 0));
      const rendered = await image.evaluate(async (img: HTMLImageElement, size: number) => {
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const g = canvas.getContext('2d')!;
        g.drawImage(img, 0, 0);
        const scale = img.naturalWidth / (size + 2);
        const out: number[] = [];
        for (let row = 0; row < size; row++) {
          for (let col = 0; col < size; col++) {
            const [r] = g.getImageData(
              Math.floor((col + 1.5) * scale),
              Math.floor((row + 1.5) * scale),
              1,
              1,
            ).data;
            out.push(r! < 128 ? 1 : 0);
          }
        }
        return out;
      }, matrix.size);
      expect(rendered).toEqual(expected);
      await card.getByText('Waiting for pairing').waitFor();
      await screenshot(page, 'sessions-qr');

      socket.completePairing({ phoneNumber: '5511988880001', lid: '400000000000001' });
      await eventually(
        'the linked creds saved',
        async () =>
          ((await redis.hget(`${b.keyPrefix}session:${sessionId}:auth`, 'creds')) ?? '').includes(
            '5511988880001',
          ),
        10_000,
      );
      await socket.close(DisconnectReason.restartRequired);
      // The restart's socket logs in with the saved creds. Open whichever socket is newest: on a
      // busy machine the adapter may have given up on one (connect timeout) and made another.
      const standIn = standIns.get(sessionId)!;
      await standIn.socket(2, 10_000);
      const opened = new Set<unknown>();
      await eventually(
        'connected recorded',
        async () => {
          const latest = standIn.current;
          if (!opened.has(latest)) {
            try {
              latest.open();
              opened.add(latest);
            } catch {
              // closed before we got to it: the next round takes the next socket
            }
          }
          const row = await withTenant(dbB, b.tenantId, (tx) =>
            tx.session.findUniqueOrThrow({ where: { id: sessionId } }),
          );
          return row.state === 'connected';
        },
        20_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; the runtime reported: ${runtimeErrors.join(' | ') || 'nothing'}`);
      });
      await card.getByRole('status', { name: 'State of phone-1' }).getByText('Connected').waitFor();
      await card.getByText('+5511988880001', { exact: false }).waitFor();
      expect(await card.getByRole('img', { name: 'QR code to pair phone-1' }).count()).toBe(0);
      await screenshot(page, 'sessions-paired');
    } finally {
      await runtime.stop().catch(() => undefined);
      redis.disconnect();
    }
  }, 60_000);
});

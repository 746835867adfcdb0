// Scheduled messages, quick replies and a session's call handling in real Chromium against the
// real stack (packages/devstack: an API process serving this build, Postgres, Redis). The
// conversation and the WhatsApp app session are written straight into the tenant's database (no
// worker runs: nothing here needs one, a scheduled message stays a delayed job until cancelled and
// a sent reply stays queued). What the page does is checked through the API as well.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adminGet, expectProblem, screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let conversationId: string;
let sessionId: string;

beforeAll(async () => {
  bed = await startInboxTestbed('tools', (run) => ({
    tenants: [
      {
        slug: `tools-${run}`,
        displayName: 'Tools Co',
        admin: { email: 'admin@tools.test', password: 'admin password 1', displayName: 'Tara Tools' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
  try {
    await withTenant(db, tenant.tenantId, async (tx) => {
      const session = await tx.session.create({
        data: { tenantId: tenant.tenantId, name: 'calls-1', channel: 'baileys' },
      });
      const contact = await tx.contact.create({
        data: { tenantId: tenant.tenantId, displayName: 'Zoe Later' },
      });
      await tx.contactIdentity.create({
        data: { tenantId: tenant.tenantId, contactId: contact.id, kind: 'pn', value: '15555550404' },
      });
      const conversation = await tx.conversation.create({
        data: { tenantId: tenant.tenantId, sessionId: session.id, contactId: contact.id },
      });
      await tx.message.create({
        data: {
          tenantId: tenant.tenantId,
          sessionId: session.id,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: 'Can you remind me tomorrow?',
        },
      });
      sessionId = session.id;
      conversationId = conversation.id;
    });
  } finally {
    await db.$disconnect();
  }
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

/** A `datetime-local` value `days` from today at `time`, in the test process's (and Chromium's) zone. */
function localDateTime(days: number, time: string): string {
  const d = new Date();
  d.setDate(d.getDate() + days);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${time}`;
}

async function openConversation(page: Page) {
  await page.getByRole('link', { name: 'Inbox' }).click();
  await page.getByRole('link', { name: /^Zoe Later/ }).click();
  await page.getByRole('region', { name: 'Thread' }).getByText('Can you remind me tomorrow?').waitFor();
}

type Scheduled = { id: string; status: string; sendAt: string; content: unknown };

describe('scheduled messages, quick replies and call handling', () => {
  it('schedules a message from the composer, lists it, refuses a past time, and cancels it', async () => {
    const watched = await bed.open();
    const { page } = watched;
    await signIn(page, tenant.apiUrl, tenant.admin);
    await openConversation(page);
    const composer = page.getByRole('form', { name: 'Reply' });
    const text = 'Reminder: your order ships today.';
    await composer.getByRole('textbox', { name: 'Message' }).fill(text);
    await composer.getByRole('button', { name: 'Schedule', exact: true }).click();
    const schedule = composer.getByRole('group', { name: 'Schedule the message' });

    // A time in the past: the API refuses it and the page shows its words.
    await schedule.getByLabel('Send at').fill(localDateTime(-1, '10:00'));
    const pastRefused = expectProblem(watched, /400.*\/v1\/scheduled-messages/);
    await schedule.getByRole('button', { name: 'Schedule message' }).click();
    await schedule.getByRole('alert').getByText('must be in the future and at most a year ahead').waitFor();
    await pastRefused();

    const when = localDateTime(1, '10:30');
    await schedule.getByLabel('Send at').fill(when);
    await schedule.getByRole('button', { name: 'Schedule message' }).click();
    const pending = composer.getByRole('list', { name: 'Pending scheduled messages' });
    await pending.getByText(text).waitFor();
    expect(await composer.getByRole('textbox', { name: 'Message' }).inputValue()).toBe('');
    expect(await schedule.count()).toBe(0);
    await screenshot(page, 'thread-scheduled');
    // At phone width the composer with its scheduling row fits the screen.
    await page.setViewportSize({ width: 375, height: 740 });
    await composer.getByRole('button', { name: 'Schedule', exact: true }).click();
    await schedule.getByLabel('Send at').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, 'phone-schedule');
    await schedule.getByRole('button', { name: 'Close' }).click();
    await schedule.waitFor({ state: 'detached' });
    await page.setViewportSize({ width: 1280, height: 800 });

    // Stored as the instant the member's local time means.
    const instant = await page.evaluate((local) => new Date(local).toISOString(), when);
    const stored = await adminGet<{ items: Scheduled[] }>(
      tenant,
      `/v1/scheduled-messages?conversationId=${conversationId}`,
    );
    expect(stored.items).toHaveLength(1);
    expect(stored.items[0]).toMatchObject({
      status: 'scheduled',
      sendAt: instant,
      content: { type: 'text', text },
    });
    const id = stored.items[0]!.id;

    // The Scheduled page lists every pending one, and leads back to its conversation.
    await page.getByRole('link', { name: 'Scheduled' }).click();
    const all = page.getByRole('list', { name: 'Pending scheduled messages' });
    await all.getByText(text).waitFor();
    await screenshot(page, 'scheduled');
    await all.getByRole('button', { name: 'Open conversation' }).click();
    await page.getByRole('region', { name: 'Thread' }).getByText('Can you remind me tomorrow?').waitFor();

    // Cancelled in the thread: gone from the list, and cancelled in the API.
    await pending.getByRole('button', { name: /^Cancel the message scheduled for / }).click();
    await pending.waitFor({ state: 'detached' });
    const after = await adminGet<Scheduled>(tenant, `/v1/scheduled-messages/${id}`);
    expect(after.status).toBe('cancelled');
    await page.getByRole('link', { name: 'Scheduled' }).click();
    await page.getByText('No scheduled messages').waitFor();
  });

  it('creates, edits and deletes quick replies, and the composer uses one', async () => {
    const watched = await bed.open();
    const { page } = watched;
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Quick replies' }).click();
    await page.getByText('No quick replies yet').waitFor();
    const create = page.getByRole('form', { name: 'New quick reply' });

    // A shortcut the API refuses: its words are shown.
    await create.getByLabel('Shortcut').fill('Not Valid');
    await create.getByLabel('Title').fill('Thank you');
    await create.getByLabel('Text').fill('Thank you for writing to us!');
    const shortcutRefused = expectProblem(watched, /400.*\/v1\/quick-replies/);
    await create.getByRole('button', { name: 'Add quick reply' }).click();
    await page.getByRole('alert').getByText('must be 1-32 lower-case letters, digits, - or _').waitFor();
    await shortcutRefused();

    await create.getByLabel('Shortcut').fill('thanks');
    await create.getByRole('button', { name: 'Add quick reply' }).click();
    const list = page.getByRole('list', { name: 'Quick replies' });
    await list.getByRole('listitem', { name: 'Quick reply /thanks' }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    await expect.poll(() => create.getByLabel('Shortcut').inputValue()).toBe('');

    await create.getByLabel('Shortcut').fill('bye');
    await create.getByLabel('Title').fill('Goodbye');
    await create.getByLabel('Text').fill('Have a good day!');
    await create.getByRole('button', { name: 'Add quick reply' }).click();
    await list.getByRole('listitem', { name: 'Quick reply /bye' }).waitFor();

    // Edit: the text changes, the shortcut stays.
    const edited = 'Thanks for writing; we answer within the hour.';
    await list.getByRole('button', { name: 'Edit /thanks' }).click();
    const edit = page.getByRole('form', { name: 'Edit /thanks' });
    await edit.getByLabel('Text').fill(edited);
    await edit.getByRole('button', { name: 'Save' }).click();
    await list.getByRole('listitem', { name: 'Quick reply /thanks' }).getByText(edited).waitFor();

    // Delete.
    await list.getByRole('button', { name: 'Delete /bye' }).click();
    await list.getByRole('listitem', { name: 'Quick reply /bye' }).waitFor({ state: 'detached' });
    await screenshot(page, 'quick-replies');
    const stored = await adminGet<{ items: { shortcut: string; title: string; body: string }[] }>(
      tenant,
      '/v1/quick-replies',
    );
    expect(stored.items.map(({ shortcut, title, body }) => ({ shortcut, title, body }))).toEqual([
      { shortcut: 'thanks', title: 'Thank you', body: edited },
    ]);

    // The composer's "/" picker offers it; Enter picks it, Enter again sends it.
    await openConversation(page);
    const box = page.getByRole('form', { name: 'Reply' }).getByRole('textbox', { name: 'Message' });
    await box.fill('/tha');
    await page.getByRole('list', { name: 'Quick replies' }).getByText('/thanks').waitFor();
    await box.press('Enter');
    await expect.poll(() => box.inputValue()).toBe(edited);
    await box.press('Enter');
    await expect
      .poll(
        async () =>
          (
            await adminGet<{ items: { direction: string; body: string | null }[] }>(
              tenant,
              `/v1/conversations/${conversationId}/messages`,
            )
          ).items.filter((m) => m.direction === 'outbound' && m.body === edited).length,
        { timeout: 10_000 },
      )
      .toBe(1);
  });

  it("saves a session's call handling and shows it again", async () => {
    const watched = await bed.open({ width: 1280, height: 1000 });
    const { page } = watched;
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Sessions' }).click();
    const card = page.getByRole('listitem', { name: 'Session calls-1' });
    const form = card.getByRole('form', { name: 'Calls of calls-1' });
    const decline = form.getByLabel('Decline calls automatically');
    // Loaded (the fields are enabled once the API answered): never set, calls are not declined.
    await expect.poll(() => decline.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await decline.isChecked()).toBe(false);

    const reply = 'We cannot take calls here; please write.';
    await decline.check();
    await form.getByLabel('Reply to the caller (optional)').fill(reply);
    await form.getByRole('button', { name: 'Save call settings' }).click();
    await form.getByText('Saved').waitFor();
    await screenshot(page, 'sessions-calls');
    expect(await adminGet(tenant, `/v1/sessions/${sessionId}/calls`)).toEqual({
      rejectCalls: true,
      replyText: reply,
    });

    // Shown again after leaving the page.
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByRole('link', { name: 'Sessions' }).click();
    const again = page.getByRole('form', { name: 'Calls of calls-1' });
    await expect
      .poll(() => again.getByLabel('Decline calls automatically').isChecked(), { timeout: 15_000 })
      .toBe(true);
    expect(await again.getByLabel('Reply to the caller (optional)').inputValue()).toBe(reply);

    // No reply text: saved as none.
    await again.getByLabel('Reply to the caller (optional)').fill('');
    await again.getByRole('button', { name: 'Save call settings' }).click();
    await again.getByText('Saved').waitFor();
    expect(await adminGet(tenant, `/v1/sessions/${sessionId}/calls`)).toEqual({
      rejectCalls: true,
      replyText: null,
    });
  });
});

// The composer's poll on a WhatsApp app (Baileys) conversation, and its reply buttons on a Cloud
// API one, in real Chromium against the real stack (packages/devstack: the API serving this build,
// Postgres, Redis; no worker runs, so what is sent stays queued). The conversations and sessions
// are written straight into the tenant's database; a customer's vote on the poll is written as the
// worker stores one (a `poll_vote` message pointing at its poll), and the thread shows the poll
// with its count. Reply buttons over Meta's limits come back refused, naming the field.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let conversationId: string;
let sessionId: string;
let cloudConversationId: string;

beforeAll(async () => {
  bed = await startInboxTestbed('polls', (run) => ({
    tenants: [
      {
        slug: `polls-${run}`,
        displayName: 'Polls Co',
        admin: { email: 'admin@polls.test', password: 'polls password 1', displayName: 'Paula Polls' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
  try {
    await withTenant(db, tenant.tenantId, async (tx) => {
      const session = await tx.session.create({
        data: { tenantId: tenant.tenantId, name: 'app-1', channel: 'baileys' },
      });
      const contact = await tx.contact.create({
        data: { tenantId: tenant.tenantId, displayName: 'Vera Vote' },
      });
      await tx.contactIdentity.create({
        data: { tenantId: tenant.tenantId, contactId: contact.id, kind: 'pn', value: '15555550909' },
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
          body: 'When can we meet?',
        },
      });
      sessionId = session.id;
      conversationId = conversation.id;
      const cloud = await tx.session.create({
        data: { tenantId: tenant.tenantId, name: 'cloud-1', channel: 'cloud_api' },
      });
      const buyer = await tx.contact.create({
        data: { tenantId: tenant.tenantId, displayName: 'Bea Buttons' },
      });
      await tx.contactIdentity.create({
        data: { tenantId: tenant.tenantId, contactId: buyer.id, kind: 'pn', value: '15555550910' },
      });
      const cloudConversation = await tx.conversation.create({
        data: { tenantId: tenant.tenantId, sessionId: cloud.id, contactId: buyer.id },
      });
      await tx.message.create({
        data: {
          tenantId: tenant.tenantId,
          sessionId: cloud.id,
          conversationId: cloudConversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: 'Do you deliver on Sundays?',
        },
      });
      cloudConversationId = cloudConversation.id;
    });
  } finally {
    await db.$disconnect();
  }
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

describe('polls from the composer', () => {
  it('sends a poll on a WhatsApp app conversation and shows it with the votes on each option', async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: /^Vera Vote/ }).click();
    const thread = page.getByRole('list', { name: 'Messages with Vera Vote' });
    await thread.getByText('When can we meet?').waitFor();

    const composer = page.getByRole('form', { name: 'Reply' });
    await composer.getByRole('button', { name: 'Poll' }).click();
    const form = composer.getByRole('group', { name: 'Create a poll' });
    await form.getByLabel('Question').fill('Which day?');
    await form.getByLabel('Options, one per line').fill('Monday\nTuesday\n');
    await form.getByRole('button', { name: 'Send poll' }).click();
    const poll = thread.getByRole('region', { name: 'Poll: Which day?' });
    await poll.getByText('one choice', { exact: false }).waitFor();
    await poll.getByRole('listitem', { name: 'Monday: 0 votes' }).waitFor();

    // Stored as a queued poll message for the worker to send.
    const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
    try {
      const stored = await withTenant(db, tenant.tenantId, (tx) =>
        tx.message.findFirstOrThrow({ where: { conversationId, type: 'poll' } }),
      );
      expect(stored).toMatchObject({
        direction: 'outbound',
        status: 'queued',
        body: 'Which day?',
        interactive: { name: 'Which day?', options: ['Monday', 'Tuesday'], selectableCount: 1 },
      });
      // The customer votes (as the worker stores a decrypted vote), then changes their mind.
      for (const [id, selected] of [
        ['3EB0VOTEA', ['Monday']],
        ['3EB0VOTEB', ['Tuesday']],
      ] as const) {
        await withTenant(db, tenant.tenantId, (tx) =>
          tx.message.create({
            data: {
              tenantId: tenant.tenantId,
              sessionId,
              conversationId,
              direction: 'inbound',
              status: 'delivered',
              type: 'poll_vote',
              body: selected.join(', '),
              providerMessageId: id,
              replyToMessageId: stored.id,
              interactive: { pollMessageId: 'SB-POLL', selectedOptions: [...selected] },
            },
          }),
        );
      }
    } finally {
      await db.$disconnect();
    }
    await page.reload();
    const reloaded = page.getByRole('list', { name: 'Messages with Vera Vote' });
    const tallied = reloaded.getByRole('region', { name: 'Poll: Which day?' });
    // The latest vote counts: Tuesday 1, Monday 0.
    await tallied.getByRole('listitem', { name: 'Tuesday: 1 vote' }).waitFor();
    await tallied.getByRole('listitem', { name: 'Monday: 0 votes' }).waitFor();
    await reloaded.getByRole('note', { name: 'Poll vote' }).first().waitFor();
  });

  it("sends reply buttons on a Cloud API conversation, and shows Meta's refusal of a title too long", async () => {
    const watched = await bed.open();
    const { page } = watched;
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: /^Bea Buttons/ }).click();
    const thread = page.getByRole('list', { name: 'Messages with Bea Buttons' });
    await thread.getByText('Do you deliver on Sundays?').waitFor();
    const composer = page.getByRole('form', { name: 'Reply' });
    // A Cloud API conversation offers buttons, not polls.
    expect(await composer.getByRole('button', { name: 'Poll' }).count()).toBe(0);

    await composer.getByRole('button', { name: 'Buttons' }).click();
    let form = composer.getByRole('group', { name: 'Create an interactive message' });
    await form.getByLabel('Message').fill('Shall we deliver on Sunday?');
    await form.getByLabel('Buttons, one per line (up to 3)').fill('Yes, Sunday\nNo, Monday is fine\n');
    await form.getByRole('button', { name: 'Send interactive message' }).click();
    const sent = thread.getByRole('region', { name: 'Interactive message' });
    await sent.getByRole('list', { name: 'Reply buttons' }).getByText('No, Monday is fine').waitFor();

    // Over Meta's 20 characters: refused by the API, the field named on the pending message.
    await composer.getByRole('button', { name: 'Buttons' }).click();
    form = composer.getByRole('group', { name: 'Create an interactive message' });
    await form.getByLabel('Message').fill('And the time?');
    await form.getByLabel('Buttons, one per line (up to 3)').fill('In the morning, before nine');
    // The refusal Chromium logs (the 422 of that send) is this step's point.
    const refused = expectProblem(watched, /422.*\/v1\/messages/);
    await form.getByRole('button', { name: 'Send interactive message' }).click();
    await thread
      .getByRole('alert')
      .getByText(/20 characters/)
      .waitFor();
    await refused();

    const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
    try {
      const stored = await withTenant(db, tenant.tenantId, (tx) =>
        tx.message.findMany({ where: { conversationId: cloudConversationId, type: 'interactive' } }),
      );
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({
        direction: 'outbound',
        status: 'queued',
        body: 'Shall we deliver on Sunday?',
        interactive: {
          kind: 'button',
          body: 'Shall we deliver on Sunday?',
          buttons: [
            { id: 'button-1', title: 'Yes, Sunday' },
            { id: 'button-2', title: 'No, Monday is fine' },
          ],
        },
      });
    } finally {
      await db.$disconnect();
    }
  });
});

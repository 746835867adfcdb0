// The composer's poll on a WhatsApp app (Baileys) conversation in real Chromium against the real
// stack (packages/devstack: the API serving this build, Postgres, Redis; no worker runs, so the
// poll stays queued). The conversation and session are written straight into the tenant's
// database; a customer's vote on the poll is written as the worker stores one (a `poll_vote`
// message pointing at its poll), and the thread shows the poll with its count.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let conversationId: string;
let sessionId: string;

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
});

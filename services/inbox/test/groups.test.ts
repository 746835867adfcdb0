// WhatsApp groups in real Chromium against the real stack (packages/devstack: an API process
// serving this build, Postgres, Redis). The group, its participants and its messages are written
// straight into the tenant's database as the worker stores them (packages/messaging groups/store.ts:
// a contact for the group, its whatsapp_groups row, messages with their sender and mentions, a
// `group_event` line); no worker runs. What the page shows is checked against that.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
const GROUP = '120363000000000321@g.us';
const ANA = '5511977770001';
const BRUNO = '5511977770002';

beforeAll(async () => {
  bed = await startInboxTestbed('groups', (run) => ({
    tenants: [
      {
        slug: `groups-${run}`,
        displayName: 'Groups Co',
        admin: { email: 'admin@groups.test', password: 'admin password 1', displayName: 'Gale Groups' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  const tenantId = tenant.tenantId;
  const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
  try {
    await withTenant(db, tenantId, async (tx) => {
      const session = await tx.session.create({ data: { tenantId, name: 'groups-1', channel: 'baileys' } });
      // Ana is a contact the team named; Bruno is known only by his push name.
      const ana = await tx.contact.create({ data: { tenantId, displayName: 'Ana Souza' } });
      await tx.contactIdentity.create({ data: { tenantId, contactId: ana.id, kind: 'pn', value: ANA } });
      const groupContact = await tx.contact.create({ data: { tenantId, pushName: 'Acme support' } });
      await tx.whatsappGroup.create({
        data: {
          tenantId,
          jid: GROUP,
          contactId: groupContact.id,
          subject: 'Acme support',
          description: 'Orders and deliveries',
          participants: [
            { jid: `${ANA}@s.whatsapp.net`, pn: ANA, role: 'superadmin' },
            { jid: `${BRUNO}@s.whatsapp.net`, pn: BRUNO, role: 'member' },
          ],
        },
      });
      const conversation = await tx.conversation.create({
        data: { tenantId, sessionId: session.id, contactId: groupContact.id },
      });
      const base = Date.now() - 60_000;
      const at = (i: number) => new Date(base + i * 1000);
      const common = {
        tenantId,
        sessionId: session.id,
        conversationId: conversation.id,
        status: 'delivered' as const,
      };
      await tx.message.create({
        data: {
          ...common,
          direction: 'inbound',
          type: 'text',
          body: 'Where is order 4411?',
          senderJid: `${BRUNO}@s.whatsapp.net`,
          senderPn: BRUNO,
          senderName: 'Bruno',
          createdAt: at(1),
        },
      });
      await tx.message.create({
        data: {
          ...common,
          direction: 'inbound',
          type: 'text',
          body: `@${ANA} can you check?`,
          senderJid: `${BRUNO}@s.whatsapp.net`,
          senderPn: BRUNO,
          senderName: 'Bruno',
          mentions: [{ jid: `${ANA}@s.whatsapp.net`, pn: ANA }],
          createdAt: at(2),
        },
      });
      await tx.message.create({
        data: {
          ...common,
          direction: 'inbound',
          type: 'group_event',
          body: 'Ana Souza added +5511977770003',
          providerMessageId: 'group-EVT1',
          createdAt: at(3),
        },
      });
      await tx.message.create({
        data: {
          ...common,
          direction: 'inbound',
          type: 'text',
          body: 'On it.',
          senderJid: `${ANA}@s.whatsapp.net`,
          senderPn: ANA,
          senderName: 'ana',
          createdAt: at(4),
        },
      });
      // A direct conversation beside it: no group marker, no sender line.
      const zoe = await tx.contact.create({ data: { tenantId, displayName: 'Zoe Direct' } });
      await tx.contactIdentity.create({
        data: { tenantId, contactId: zoe.id, kind: 'pn', value: '15555550404' },
      });
      const direct = await tx.conversation.create({
        data: { tenantId, sessionId: session.id, contactId: zoe.id, lastMessageAt: at(0) },
      });
      await tx.message.create({
        data: {
          tenantId,
          sessionId: session.id,
          conversationId: direct.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: 'Hello there',
          createdAt: at(0),
        },
      });
    });
  } finally {
    await db.$disconnect();
  }
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

describe('WhatsApp groups in the inbox', () => {
  it('marks the group in the list, shows each sender, mentions by name, group lines and the participants', async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, tenant.admin);
    const list = page.getByRole('navigation', { name: 'Main' });
    await list.waitFor();

    // The list: the group's subject is its title, with the group marker; the direct chat has none.
    const groupRow = page.getByRole('link', { name: /^Acme support/ });
    await groupRow.getByText('Group', { exact: true }).waitFor();
    const directRow = page.getByRole('link', { name: /^Zoe Direct/ });
    await directRow.waitFor();
    expect(await directRow.getByText('Group', { exact: true }).count()).toBe(0);

    await groupRow.click();
    const thread = page.getByRole('region', { name: 'Thread' });
    await thread.getByText('On it.').waitFor();
    const bubbles = thread.locator('li.bubble');
    // Every message names its sender: the team's name for Ana, Bruno's push name.
    expect(await bubbles.locator('.sender').allTextContents()).toEqual(['Bruno', 'Bruno', 'Ana Souza']);
    // The mention reads as the person's name, not the number.
    const mention = thread.locator('.mention');
    expect(await mention.allTextContents()).toEqual(['@Ana Souza']);
    await thread.getByText('can you check?').waitFor();
    // The group event is a system line of the thread.
    const line = thread.getByRole('note', { name: 'Group event' });
    expect(await line.textContent()).toContain('Ana Souza added +5511977770003');

    // The contact panel lists the participants with their roles.
    await thread.getByRole('button', { name: 'Contact' }).click();
    const participants = page.getByRole('list', { name: 'Participants' });
    await participants.waitFor();
    const items = await participants.getByRole('listitem').allTextContents();
    expect(items).toHaveLength(2);
    expect(items[0]).toContain('Ana Souza');
    expect(items[0]).toContain('creator');
    expect(items[1]).toContain('+5511977770002');
    await page.getByText('Orders and deliveries').waitFor();
    // A group has participants, not numbers of its own.
    expect(await page.getByRole('list', { name: 'Phone numbers' }).count()).toBe(0);
    await screenshot(page, 'group-thread');

    // A direct conversation shows no sender lines and no participants.
    await page.getByRole('link', { name: /^Zoe Direct/ }).click();
    await thread.getByText('Hello there').waitFor();
    expect(await thread.locator('li.bubble .sender').count()).toBe(0);
  });
});

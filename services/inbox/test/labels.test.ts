// Labels in real Chromium against the real stack (packages/devstack: an API process serving this
// build, Postgres, Redis): an admin creates labels on the Labels page (a palette colour, then a
// changed colour) and deletes one; in the inbox, multi-select applies a label to two
// conversations in one request, their rows show the chip, the label filter narrows the list to
// them, the thread header removes and re-applies it, and the contact panel applies it to the
// contact and removes it, and opts the contact out of campaigns and back in. The database holds
// what the page showed,
// and every change is in the audit log.
import { createDb, type Db, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let db: Db;
const names = ['Ana Label', 'Bruno Label', 'Carla Label'];
let conversationIds: string[] = [];

beforeAll(async () => {
  bed = await startInboxTestbed('labels', (run) => ({
    tenants: [
      {
        slug: `labels-${run}`,
        displayName: 'Labels Co',
        admin: { email: 'admin@labels.test', password: 'admin password 1', displayName: 'Lia Labels' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
  const tenantId = tenant.tenantId;
  conversationIds = await withTenant(db, tenantId, async (tx) => {
    const session = await tx.session.create({ data: { tenantId, name: 'main', channel: 'baileys' } });
    const ids: string[] = [];
    for (const [i, name] of names.entries()) {
      const contact = await tx.contact.create({ data: { tenantId, displayName: name } });
      const conversation = await tx.conversation.create({
        data: {
          tenantId,
          sessionId: session.id,
          contactId: contact.id,
          lastMessageAt: new Date(Date.now() - i * 60_000),
        },
      });
      ids.push(conversation.id);
    }
    return ids;
  });
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await db?.$disconnect();
  await bed?.stop();
});

describe('labels', () => {
  it('creates and recolours labels, bulk-applies one, filters by it, and changes it in the thread', async () => {
    const { page } = await bed.open({ width: 1280, height: 1000 });
    await signIn(page, tenant.apiUrl, tenant.admin);

    // The Labels page: create two, recolour one, delete the other.
    await page.getByRole('link', { name: 'Labels' }).click();
    const create = page.getByRole('form', { name: 'New label' });
    await create.getByRole('button', { name: 'Colour #2563eb' }).waitFor();
    await create.getByLabel('Name').fill('VIP');
    await create.getByRole('button', { name: 'Colour #2563eb' }).click();
    await create.getByRole('button', { name: 'Add label' }).click();
    const vip = page.getByRole('listitem', { name: 'Label VIP' });
    await vip.waitFor();
    await create.getByLabel('Name').fill('Churn risk');
    await create.getByRole('button', { name: 'Add label' }).click();
    await page.getByRole('listitem', { name: 'Label Churn risk' }).waitFor();
    await page.getByRole('button', { name: 'Delete Churn risk' }).click();
    await page.getByRole('listitem', { name: 'Label Churn risk' }).waitFor({ state: 'detached' });
    await vip.getByRole('button', { name: 'Edit VIP' }).click();
    const edit = page.getByRole('form', { name: 'Edit VIP' });
    await edit.getByRole('button', { name: 'Colour #d97706' }).click();
    await edit.getByRole('button', { name: 'Save' }).click();
    await vip.getByText('0 conversations').waitFor();
    await screenshot(page, 'labels-page');
    const label = await withTenant(db, tenant.tenantId, (tx) => tx.label.findMany());
    expect(label.map((l) => [l.name, l.color])).toEqual([['VIP', '#d97706']]);
    const labelId = label[0]!.id;

    // The inbox: select two conversations and apply VIP to both in one request.
    await page.getByRole('link', { name: 'Inbox' }).click();
    const list = page.getByRole('list', { name: 'Conversations' });
    await list.getByRole('link', { name: names[0] }).waitFor();
    await page.getByRole('button', { name: 'Select' }).click();
    await page.getByRole('checkbox', { name: `Select ${names[0]}` }).check();
    await page.getByRole('checkbox', { name: `Select ${names[2]}` }).check();
    const bar = page.getByRole('toolbar', { name: 'Bulk labels' });
    await bar.getByText('2 selected').waitFor();
    const bulk = page.waitForRequest((r) => r.url().endsWith(`/v1/labels/${labelId}/apply`));
    await bar.getByLabel('Label to apply').selectOption({ label: 'VIP' });
    await bar.getByRole('button', { name: 'Apply label' }).click();
    expect((await bulk).postDataJSON()).toEqual({
      conversationIds: expect.arrayContaining([conversationIds[0], conversationIds[2]]),
    });
    await bar.waitFor({ state: 'detached' });
    await list.getByRole('link', { name: names[0] }).getByText('VIP').waitFor();
    await list.getByRole('link', { name: names[2] }).getByText('VIP').waitFor();
    expect(await list.getByRole('link', { name: names[1] }).getByText('VIP').count()).toBe(0);

    // The filter: only the labelled two.
    await page.getByLabel('Label filter').selectOption({ label: 'VIP' });
    await list.getByRole('link', { name: names[1] }).waitFor({ state: 'detached' });
    expect(await list.getByRole('link').count()).toBe(2);
    await screenshot(page, 'labels-filtered-list');

    // The thread header: remove VIP, then apply it again.
    await list.getByRole('link', { name: names[0] }).click();
    const header = page.getByRole('region', { name: 'Conversation labels' });
    await header.getByRole('button', { name: 'Remove label VIP' }).click();
    await header.getByLabel('Add label').waitFor();
    const applied = () =>
      withTenant(db, tenant.tenantId, (tx) =>
        tx.conversationLabel.findMany({ where: { conversationId: conversationIds[0] } }),
      );
    expect(await applied()).toEqual([]);
    await header.getByLabel('Add label').selectOption({ label: 'VIP' });
    await header.getByRole('button', { name: 'Remove label VIP' }).waitFor();
    expect((await applied()).map((r) => r.labelId)).toEqual([labelId]);

    // The contact panel: the contact's own labels (what a campaign's label segment picks).
    await page.getByRole('button', { name: 'Contact' }).click();
    const contactLabels = page.getByRole('complementary', { name: 'Contact' }).getByRole('region', {
      name: 'Contact labels',
    });
    await contactLabels.getByLabel('Add label').selectOption({ label: 'VIP' });
    await contactLabels.getByRole('button', { name: 'Remove label VIP' }).waitFor();
    const contactId = await withTenant(db, tenant.tenantId, async (tx) => {
      const conversation = await tx.conversation.findUniqueOrThrow({ where: { id: conversationIds[0] } });
      return conversation.contactId;
    });
    const onContact = () =>
      withTenant(db, tenant.tenantId, (tx) => tx.contactLabel.findMany({ where: { contactId } }));
    expect((await onContact()).map((r) => r.labelId)).toEqual([labelId]);
    await screenshot(page, 'labels-contact-panel');
    await contactLabels.getByRole('button', { name: 'Remove label VIP' }).click();
    await contactLabels.getByLabel('Add label').waitFor();
    expect(await onContact()).toEqual([]);

    // The same panel: the contact's campaign opt-out, set and ended through the API.
    const campaigns = page.getByRole('complementary', { name: 'Contact' }).getByRole('region', {
      name: 'Campaigns',
    });
    await campaigns.getByText('Receives campaigns').waitFor();
    await campaigns.getByRole('button', { name: 'Opt out of campaigns' }).click();
    await campaigns.getByText(/Opted out of campaigns \(by the team/).waitFor();
    const optOut = () =>
      withTenant(db, tenant.tenantId, (tx) =>
        tx.contactOptOut.findUniqueOrThrow({
          where: { tenantId_contactId: { tenantId: tenant.tenantId, contactId } },
        }),
      );
    expect(await optOut()).toMatchObject({ keyword: 'api', optedInAt: null });
    await campaigns.getByRole('button', { name: 'Opt back in to campaigns' }).click();
    await campaigns.getByText('Receives campaigns (back in: by the team)').waitFor();
    expect(await optOut()).toMatchObject({ keyword: 'api', optedInBy: 'api' });

    const audit = await withTenant(db, tenant.tenantId, (tx) =>
      tx.auditLogEntry.findMany({ where: { action: { startsWith: 'label.' } }, orderBy: { at: 'asc' } }),
    );
    expect(audit.map((a) => a.action).sort()).toEqual(
      [
        'label.created',
        'label.created',
        'label.deleted',
        'label.updated',
        'label.applied',
        'label.applied',
        'label.removed',
        'label.applied',
        'label.applied',
        'label.removed',
      ].sort(),
    );
  });
});

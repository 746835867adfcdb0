// Campaigns in real Chromium against the real stack (packages/devstack: API and worker processes,
// Postgres, Redis, and the tenant's Cloud API number played by the emulator): an admin imports a
// CSV of contacts (the bad row reported by line), starts a campaign from a stored template to
// that import, and watches it complete; the customer who had replied STOP is skipped as
// `opted_out`, every other number got the template exactly once, and the recipients table shows
// each one's result as the emulator's statuses arrive.
import { createDb, type Db, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { customerSends, eventually, screenshot, sentTo, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let db: Db;
let emulatorUrl: string;
const PHONES = ['15555560001', '15555560002', '15555560003'];

beforeAll(async () => {
  bed = await startInboxTestbed('campaigns', (run) => ({
    tenants: [
      {
        slug: `campaigns-${run}`,
        displayName: 'Campaigns Co',
        admin: { email: 'admin@campaigns.test', password: 'admin password 1', displayName: 'Cam Paign' },
        cloudApi: { phoneNumberId: '106540352244001', displayPhoneNumber: '15551234444' },
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  emulatorUrl = tenant.cloudApi!.emulator.url;
  db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
  await withTenant(db, tenant.tenantId, (tx) =>
    tx.messageTemplate.create({
      data: {
        tenantId: tenant.tenantId,
        name: 'spring_sale',
        language: 'en_US',
        body: 'Our spring sale starts today',
      },
    }),
  );
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await db?.$disconnect();
  await bed?.stop();
});

describe('campaigns', () => {
  it('imports contacts, runs a campaign to them once each, and skips the one who opted out', {
    timeout: 120_000,
  }, async () => {
    // The third customer replied STOP before the campaign (through Meta's webhook, as in production).
    await customerSends(emulatorUrl, PHONES[2]!, 'Stopper', 'Stop');
    await eventually(
      'the STOP stored',
      async () =>
        (await withTenant(db, tenant.tenantId, (tx) => tx.message.count({ where: { body: 'Stop' } }))) === 1,
    );

    const watched = await bed.open({ width: 1280, height: 1600 });
    const { page } = watched;
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Campaigns' }).click();

    const importForm = page.getByRole('form', { name: 'Import contacts' });
    await importForm.getByLabel(/Contacts CSV/).setInputFiles({
      name: 'spring.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        `phone,name\n+${PHONES[0]},Ana\n12ab,Broken\n${PHONES[1]},Bea\n${PHONES[2]},Stopper\n`,
      ),
    });
    await importForm.getByRole('button', { name: 'Import contacts' }).click();
    const report = page.getByRole('region', { name: 'Import report' });
    await report.getByText('spring.csv: 3 of 4 rows imported').waitFor();
    await report.getByText('Line 3: phone "12ab" is not an international number (8 to 15 digits)').waitFor();

    const form = page.getByRole('form', { name: 'New campaign' });
    await form.getByLabel('Campaign name').fill('Spring');
    await form
      .getByLabel('Session')
      .locator('option', { hasText: tenant.cloudApi!.sessionName })
      .waitFor({ state: 'attached' });
    await form.getByLabel('Session').selectOption({ label: tenant.cloudApi!.sessionName });
    await form.getByLabel('Template').selectOption({ label: 'spring_sale (en_US)' });
    await form.getByLabel('Send to').selectOption({ label: 'Contacts of an import' });
    await form.getByRole('combobox', { name: /^Import/ }).selectOption({ label: 'spring.csv (3 contacts)' });
    await form.getByRole('button', { name: 'Start campaign' }).click();

    const card = page.getByRole('listitem', { name: 'Campaign Spring' });
    await card.waitFor();
    // The worker sends; the emulator's statuses come back: both reach `read`, the third is skipped.
    await card.getByText('completed').waitFor({ timeout: 30_000 });
    await expect
      .poll(() => card.getByLabel('Counts of Spring').textContent(), { timeout: 30_000 })
      .toBe('3 recipients · 0 pending · 0 queued · 0 sent · 0 delivered · 2 read · 0 failed · 1 skipped');
    const table = card.getByRole('table', { name: 'Recipients of Spring' });
    await table
      .getByRole('row', { name: /Stopper/ })
      .getByText('opted_out')
      .waitFor();
    // The table is read again once the counts change: both sends end `read` there too.
    for (const name of [/Ana/, /Bea/])
      await table.getByRole('row', { name }).getByRole('cell', { name: 'read', exact: true }).waitFor();
    await screenshot(page, 'campaigns');

    for (const phone of PHONES.slice(0, 2)) {
      const sent = await sentTo(emulatorUrl, phone);
      expect(sent).toHaveLength(1);
      expect((sent[0]!.request as { template?: { name: string } }).template?.name).toBe('spring_sale');
    }
    expect(await sentTo(emulatorUrl, PHONES[2]!)).toEqual([]);
  });
});

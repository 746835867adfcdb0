// A session's history on pairing in real Chromium against the real stack (packages/devstack: an
// API process serving this build, Postgres, Redis). The sessions are written straight into the
// tenant's database (no worker runs: the setting applies at the next pairing). What the page saves
// is checked through the API as well.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adminGet, screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let sessionId: string;
let cloudSessionId: string;

beforeAll(async () => {
  bed = await startInboxTestbed('history', (run) => ({
    tenants: [
      {
        slug: `history-${run}`,
        displayName: 'History Co',
        admin: { email: 'admin@history.test', password: 'admin password 1', displayName: 'Hana History' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
  try {
    await withTenant(db, tenant.tenantId, async (tx) => {
      sessionId = (
        await tx.session.create({ data: { tenantId: tenant.tenantId, name: 'phone-1', channel: 'baileys' } })
      ).id;
      cloudSessionId = (
        await tx.session.create({
          data: { tenantId: tenant.tenantId, name: 'cloud-1', channel: 'cloud_api' },
        })
      ).id;
    });
  } finally {
    await db.$disconnect();
  }
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

describe('history on pairing', () => {
  it("saves a WhatsApp app session's history import and shows it again; Cloud API cards have a messaging limit instead", async () => {
    const watched = await bed.open({ width: 1280, height: 1000 });
    const { page } = watched;
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Sessions' }).click();
    const card = page.getByRole('listitem', { name: 'Session phone-1' });
    const form = card.getByRole('form', { name: 'History import of phone-1' });
    const select = form.getByLabel('Import chats when the number is paired');
    // Loaded once enabled (the API answered): never set, nothing is imported.
    await expect.poll(() => select.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await select.inputValue()).toBe('none');

    await select.selectOption({ label: 'Last 30 days' });
    await form.getByRole('button', { name: 'Save history import' }).click();
    await form.getByText('Saved').waitFor();
    await screenshot(page, 'sessions-history-import');
    expect(await adminGet(tenant, `/v1/sessions/${sessionId}/history-import`)).toEqual({ historyImport: 30 });

    // Shown again after leaving the page.
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByRole('link', { name: 'Sessions' }).click();
    const again = page
      .getByRole('form', { name: 'History import of phone-1' })
      .getByLabel('Import chats when the number is paired');
    await expect.poll(() => again.inputValue(), { timeout: 15_000 }).toBe('30');

    // The Cloud API sends no history: its card has no such setting.
    const cloud = page.getByRole('listitem', { name: 'Session cloud-1' });
    await cloud.waitFor();
    expect(await cloud.getByRole('form', { name: 'History import of cloud-1' }).count()).toBe(0);

    // Its card has a messaging limit instead (Meta's tier), which campaigns keep within.
    const limit = cloud.getByRole('form', { name: 'Messaging limit of cloud-1' });
    const tier = limit.getByLabel("Meta's tier (unique customers per 24 hours)");
    await expect.poll(() => tier.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await tier.inputValue()).toBe('none');
    await tier.selectOption({ label: '1,000' });
    await limit.getByRole('button', { name: 'Save messaging limit' }).click();
    await limit.getByText('Saved').waitFor();
    expect(await adminGet(tenant, `/v1/sessions/${cloudSessionId}/messaging-limit`)).toEqual({
      messagingLimit: 1000,
    });
    expect(await card.getByRole('form', { name: 'Messaging limit of phone-1' }).count()).toBe(0);
    expect(watched.problems).toEqual([]);
  });
});

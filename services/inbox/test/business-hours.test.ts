// The settings page's business hours in real Chromium against the real stack (packages/devstack:
// an API process serving this build, Postgres, Redis): an admin sets days, hours, a time zone and
// the away message; what is saved is what the worker's away replies read; a bad time zone is
// refused with the API's message, and the page reloads what was saved.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;

beforeAll(async () => {
  bed = await startInboxTestbed('hours', (run) => ({
    tenants: [
      {
        slug: `hours-${run}`,
        displayName: 'Hours Co',
        admin: { email: 'admin@hours.test', password: 'admin password 1', displayName: 'Hana Hours' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

describe('business hours settings', () => {
  it('saves days, hours, zone and away message, refuses a bad zone, and shows what was saved', async () => {
    const watched = await bed.open({ width: 1280, height: 1400 });
    const { page } = watched;
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: 'Business hours' });
    // Loaded: the page says whether the tenant is open (never saved: no hours, closed).
    await page.getByText('Closed now').waitFor();

    await form.getByLabel('Send the away message outside business hours').check();
    await form.getByLabel('Time zone').fill('Mars/Olympus');
    for (const day of ['Monday', 'Tuesday', 'Wednesday'])
      await form.getByRole('checkbox', { name: day }).check();
    const friday = form.getByRole('group', { name: 'Friday' });
    await friday.getByRole('checkbox', { name: 'Friday' }).check();
    await friday.getByLabel('Opens').fill('10:00');
    await friday.getByLabel('Closes').fill('14:30');
    await form.getByLabel('Away message', { exact: true }).fill('We are closed; back at 09:00.');
    await form.getByLabel('At most once per conversation every (hours)').fill('6');
    // The refused PUT is logged by Chromium as a failed resource: expected here, and only that.
    const refused = expectProblem(watched, /400.*\/v1\/settings\/business-hours/);
    await form.getByRole('button', { name: 'Save hours' }).click();
    await page.getByRole('alert').getByText('must be an IANA time zone').waitFor();
    await refused();

    await form.getByLabel('Time zone').fill('Europe/Berlin');
    await form.getByRole('button', { name: 'Save hours' }).click();
    await form.getByText('Saved').waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    await screenshot(page, 'settings-business-hours');

    // Stored as the worker reads it.
    const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
    try {
      const row = await withTenant(db, tenant.tenantId, (tx) =>
        tx.businessHours.findUniqueOrThrow({ where: { tenantId: tenant.tenantId } }),
      );
      expect(row).toMatchObject({
        enabled: true,
        timeZone: 'Europe/Berlin',
        awayMessage: 'We are closed; back at 09:00.',
        awayWindowMinutes: 360,
        schedule: [
          { day: 'mon', open: '09:00', close: '17:00' },
          { day: 'tue', open: '09:00', close: '17:00' },
          { day: 'wed', open: '09:00', close: '17:00' },
          { day: 'fri', open: '10:00', close: '14:30' },
        ],
      });
    } finally {
      await db.$disconnect();
    }

    // Opened again, the page shows what was saved.
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByRole('link', { name: 'Settings' }).click();
    const again = page.getByRole('form', { name: 'Business hours' });
    await page.getByText(/^(Open|Closed) now$/).waitFor();
    expect(await again.getByLabel('Time zone').inputValue()).toBe('Europe/Berlin');
    expect(await again.getByRole('group', { name: 'Friday' }).getByLabel('Closes').inputValue()).toBe(
      '14:30',
    );
    expect(await again.getByRole('checkbox', { name: 'Thursday' }).isChecked()).toBe(false);
    expect(await again.getByLabel('Away message', { exact: true }).inputValue()).toBe(
      'We are closed; back at 09:00.',
    );
  });
});

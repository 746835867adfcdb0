// Settings > Security > Sessions in real Chromium against the real stack (packages/devstack: API
// processes serving this build, Postgres, Redis): one member signed in in two browsers (two
// contexts, so two logins), the first ends the second's session, and the second is signed out.
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
const admin = { email: 'admin@sessions.test', password: 'admin password 1' };

beforeAll(async () => {
  bed = await startInboxTestbed('signed-in', (run) => ({
    tenants: [
      {
        slug: `signed-in-${run}`,
        displayName: 'Sessions Co',
        admin: { ...admin, displayName: 'Sam Sessions' },
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

describe('signed-in sessions', () => {
  it("ends the other browser's session from Settings > Security, and that browser is signed out", async () => {
    const first = await bed.open();
    const second = await bed.open();
    await signIn(first.page, tenant.apiUrl, admin);
    await signIn(second.page, tenant.apiUrl, admin);

    await first.page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Security' })
      .click();
    const table = first.page.getByRole('table', { name: 'Signed-in sessions' });
    const rows = table.getByRole('row');
    // A header and the two sessions; this browser's marked, only the other one can be ended.
    await expect.poll(() => rows.count()).toBe(3);
    await expect.poll(() => table.getByText('(this device)').count()).toBe(1);
    const end = table.getByRole('button', { name: /^End the session of Chrome \d+ on Linux from / });
    await expect.poll(() => end.count()).toBe(1);
    await screenshot(first.page, 'signed-in-sessions');

    // The second browser's refused requests (its stream's reconnect, then its refresh) are logged
    // by Chromium as console errors: they are this test's point, read and cleared below.
    const refused = second.page.waitForEvent(
      'console',
      (message) => message.type() === 'error' && message.text().includes('401'),
    );
    await end.click();
    await first.page.getByText(/^Ended the session of Chrome/).waitFor();
    await expect.poll(() => rows.count()).toBe(2);

    // The ended session's realtime stream closed; its reconnect and refresh are refused: signed out.
    await second.page.getByText('You were signed out.').waitFor();
    await second.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await refused;
    await screenshot(second.page, 'signed-in-sessions-ended');
    // Closed first, so no later console message of it is recorded after the problems are cleared.
    await second.context.close();
    expect(second.problems.length).toBeGreaterThan(0);
    expect(
      second.problems.every((p) => p.includes('401')),
      second.problems.join('\n'),
    ).toBe(true);
    second.problems.length = 0;

    // The first browser is still signed in, and after a reload lists only itself.
    await first.page.reload();
    await expect
      .poll(() => first.page.getByRole('table', { name: 'Signed-in sessions' }).getByRole('row').count())
      .toBe(2);
    await first.page.getByText('(this device)').waitFor();
  });
});

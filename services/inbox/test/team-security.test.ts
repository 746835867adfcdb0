// The Team page's "End sessions" and the Security page's mail language and audit export, in real
// Chromium against the real stack (packages/devstack: an API process serving this build,
// Postgres, Redis). The agent is made through the API as a member would be: invited, accepted.
import { readFile } from 'node:fs/promises';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
/** The UTC day this file's stack started: the audit export's range runs from it to today. */
let startDay: string;
const admin = { email: 'admin@teamsec.test', password: 'admin password 1' };
const agent = { email: 'agent@teamsec.test', password: 'agent password 1' };

async function api(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  return await fetch(`${tenant.apiUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function tokenOf(who: { email: string; password: string }): Promise<string> {
  const res = await api('POST', '/v1/auth/login', who);
  expect(res.status).toBe(200);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

beforeAll(async () => {
  startDay = new Date().toISOString().slice(0, 10);
  bed = await startInboxTestbed('team-security', (run) => ({
    tenants: [
      {
        slug: `teamsec-${run}`,
        displayName: 'Team Security Co',
        admin: { ...admin, displayName: 'Ada Admin' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  const invited = await api(
    'POST',
    '/v1/team',
    { email: agent.email, displayName: 'Alex Agent', role: 'agent' },
    await tokenOf(admin),
  );
  expect(invited.status).toBe(201);
  const { invite } = (await invited.json()) as { invite: { token: string } };
  const accepted = await api('POST', '/v1/auth/invite/accept', {
    token: invite.token,
    password: agent.password,
  });
  expect(accepted.status).toBe(204);
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

describe('team and security settings', () => {
  it("an admin ends every session of the agent from the Team page, and the agent's browser is signed out", async () => {
    const first = await bed.open();
    const second = await bed.open();
    await signIn(first.page, tenant.apiUrl, admin);
    await signIn(second.page, tenant.apiUrl, agent);

    await first.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Team' }).click();
    const members = first.page.getByRole('table', { name: 'Members' });
    const end = members.getByRole('button', { name: 'End every session of Alex Agent' });
    await end.waitFor();
    // Not on the admin's own row.
    expect(await members.getByRole('button', { name: 'End every session of Ada Admin' }).count()).toBe(0);

    // A dismissed confirm ends nothing.
    first.page.once('dialog', (dialog) => void dialog.dismiss());
    await end.click();
    const still = await api('GET', '/v1/auth/sessions', undefined, await tokenOf(agent));
    expect(((await still.json()) as { items: unknown[] }).items.length).toBe(2);

    // The agent's refused requests (its stream's reconnect, then its refresh) are logged by
    // Chromium as console errors: they are this test's point, read and cleared below.
    const refused = second.page.waitForEvent(
      'console',
      (message) => message.type() === 'error' && message.text().includes('401'),
    );
    let asked = '';
    first.page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await end.click();
    await first.page
      // The browser's session and the one the API login above made.
      .getByText('Ended 2 sessions of Alex Agent: they are signed out everywhere.')
      .waitFor();
    expect(asked).toBe('End every session of Alex Agent? They are signed out everywhere.');
    await screenshot(first.page, 'team-end-sessions');

    await second.page.getByText('You were signed out.').waitFor();
    await second.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await refused;
    await second.context.close();
    expect(second.problems.length).toBeGreaterThan(0);
    expect(
      second.problems.every((p) => p.includes('401')),
      second.problems.join('\n'),
    ).toBe(true);
    second.problems.length = 0;
    // The admin's own session is untouched.
    await first.page.reload();
    await members.waitFor();
  });

  it('sets the mail language and exports the audit log as JSON lines from Settings > Security', async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, admin);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security' }).click();

    const language = page.getByRole('combobox', { name: 'Mail language' });
    expect(await language.inputValue()).toBe('');
    await language.selectOption({ label: 'Español' });
    await page.getByText('Your mails are now written in: Español.').waitFor();
    const me = await api('GET', '/v1/auth/me', undefined, await tokenOf(admin));
    expect(((await me.json()) as { locale: string | null }).locale).toBe('es');
    await page.reload();
    await expect.poll(() => language.inputValue()).toBe('es');
    await language.selectOption({ label: 'Tenant default' });
    await page.getByText('Your mails are now written in: Tenant default.').waitFor();

    const today = new Date().toISOString().slice(0, 10);
    const form = page.getByRole('form', { name: 'Export audit log' });
    await form.getByLabel('From').fill(startDay);
    await form.getByLabel('To (included)').fill(today);
    await screenshot(page, 'security-settings');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      form.getByRole('button', { name: 'Export audit log' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`switchboard-audit-${startDay}-${today}.ndjson`);
    const text = await readFile((await download.path())!, 'utf8');
    const lines = text.trimEnd().split('\n');
    const first = JSON.parse(lines[0]!) as { action: string; at: string };
    expect(first.at.slice(0, 10) >= startDay).toBe(true);
    const actions = lines.map((line) => (JSON.parse(line) as { action: string }).action);
    // What this file did: the invite, its acceptance, sign-ins, the sessions the admin ended.
    expect(actions).toEqual(
      expect.arrayContaining(['invite.sent', 'invite.accepted', 'auth.sign_in', 'auth.sessions_ended']),
    );
  });
});

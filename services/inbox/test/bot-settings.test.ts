// A session's bot settings in real Chromium against the real stack (packages/devstack: an API
// process serving this build, Postgres, Redis; no worker: nothing is delivered here). The page
// saves the flow engine's URL and keywords, shows the generated signing secret once, and takes a
// secret:// reference instead; what it saved is checked through the API.
import { createDb, withTenant } from '@switchboard/db';
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adminGet, screenshot, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let sessionId: string;
// A documentation address (TEST-NET-3): public, so the API's receiver check takes it without a
// DNS lookup; nothing is ever sent to it (no worker runs).
const ENGINE = 'https://203.0.113.10/flows/support';

beforeAll(async () => {
  bed = await startInboxTestbed('bot', (run) => ({
    tenants: [
      {
        slug: `bot-${run}`,
        displayName: 'Bot Co',
        admin: { email: 'admin@bot.test', password: 'admin password 1', displayName: 'Bea Bot' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 1 });
  try {
    sessionId = await withTenant(db, tenant.tenantId, async (tx) => {
      const session = await tx.session.create({
        data: { tenantId: tenant.tenantId, name: 'flows-1', channel: 'baileys' },
      });
      return session.id;
    });
  } finally {
    await db.$disconnect();
  }
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

describe('bot settings', () => {
  it("saves a session's bot, shows the generated secret once, then takes a secret reference", async () => {
    const { page } = await bed.open({ width: 1280, height: 1200 });
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Sessions' }).click();
    const card = page.getByRole('listitem', { name: 'Session flows-1' });
    const form = card.getByRole('form', { name: 'Bot of flows-1' });
    const enabled = form.getByLabel('Send customers’ messages to the flow engine');
    // Loaded (the fields are enabled once the API answered): never set, the bot is off.
    await expect.poll(() => enabled.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await enabled.isChecked()).toBe(false);

    await enabled.check();
    await form.getByLabel('Flow engine URL').fill(ENGINE);
    await form.getByLabel('Hand-off keyword').fill('agent');
    await form.getByLabel('Restart keyword').fill('bot');
    await form.getByRole('button', { name: 'Save bot settings' }).click();
    await form.getByText('Saved').waitFor();
    const secret = (await form.getByRole('status').locator('code').textContent()) ?? '';
    expect(secret).toMatch(/^botsec_/);
    await screenshot(page, 'sessions-bot');
    expect(await adminGet(tenant, `/v1/sessions/${sessionId}/bot`)).toEqual({
      enabled: true,
      url: ENGINE,
      secretRef: null,
      secretSealed: true,
      handoffKeyword: 'agent',
      restartKeyword: 'bot',
    });

    // Shown again after leaving the page, without the secret.
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByRole('link', { name: 'Sessions' }).click();
    const again = page.getByRole('form', { name: 'Bot of flows-1' });
    await expect
      .poll(() => again.getByLabel('Flow engine URL').inputValue(), { timeout: 15_000 })
      .toBe(ENGINE);
    expect(await again.getByLabel('Send customers’ messages to the flow engine').isChecked()).toBe(true);
    expect(await again.getByLabel('Hand-off keyword').inputValue()).toBe('agent');
    expect(await again.getByText(secret).count()).toBe(0);

    await again.getByLabel('Signing secret reference (optional)').fill('secret://vault/bots/support');
    await again.getByRole('button', { name: 'Save bot settings' }).click();
    await again.getByText('Saved').waitFor();
    expect(await adminGet(tenant, `/v1/sessions/${sessionId}/bot`)).toMatchObject({
      secretRef: 'secret://vault/bots/support',
      secretSealed: false,
    });
  });
});

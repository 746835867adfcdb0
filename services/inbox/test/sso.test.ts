// Single sign-on in real Chromium: the stack's API (packages/devstack) with SSO_* pointing at a
// real OpenID Connect provider (oidc-provider on loopback, started here, with its own login
// page). "Sign in with SSO" on the inbox's login form, the provider's page, back to the inbox's
// callback page, signed in; and a refusal shown on that page.

import type { StackTenant } from '@switchboard/devstack';
import { freePort } from '@switchboard/testing';
import { startOidcProvider, type TestOidcProvider } from '@switchboard/testing/oidc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, type WatchedPage } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let idp: TestOidcProvider;
let bed: InboxTestbed;
let tenant: StackTenant;

beforeAll(async () => {
  const apiPort = await freePort();
  const redirectUri = `http://127.0.0.1:${apiPort}/sso/callback`;
  idp = await startOidcProvider({
    clientId: 'inbox',
    clientSecret: 'inbox-client-secret-0123456789',
    redirectUris: [redirectUri],
    accounts: {
      'grace@sso.test': {
        password: 'idp password 1',
        email: 'grace@sso.test',
        emailVerified: true,
        name: 'Grace',
      },
      'mallory@sso.test': { password: 'idp password 2', email: 'mallory@sso.test', emailVerified: false },
    },
  });
  bed = await startInboxTestbed('sso', (run) => ({
    apiPorts: [apiPort],
    processEnv: {
      PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
      SSO_ISSUER: idp.issuer,
      SSO_CLIENT_ID: 'inbox',
      SSO_CLIENT_SECRET: 'inbox-client-secret-0123456789',
      SSO_ALLOWED_DOMAINS: 'sso.test',
      SSO_AUTO_PROVISION: 'true',
      SSO_DEFAULT_ROLE: 'agent',
    },
    tenants: [
      {
        slug: `sso-${run}`,
        displayName: 'SSO Co',
        admin: { email: 'admin@sso.test', password: 'admin password 1', displayName: 'Ada Admin' },
        worker: false,
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
}, 180_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
  await idp?.close();
});

/** From the inbox's login form through the provider's login page. */
async function signInAtProvider(page: WatchedPage['page'], username: string, password: string) {
  await page.goto(tenant.apiUrl);
  await page.getByRole('button', { name: 'Sign in with SSO' }).click();
  const form = page.getByRole('form', { name: 'Sign in at the provider' });
  await form.waitFor();
  expect(new URL(page.url()).origin).toBe(idp.issuer);
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Continue' }).click();
}

describe('single sign-on in the inbox', () => {
  it('signs in with the provider and lands in the inbox, the code gone from the address bar', async () => {
    const { page } = await bed.open();
    await signInAtProvider(page, 'grace@sso.test', 'idp password 1');
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    expect(page.url()).not.toContain('code=');
    // Provisioned as an agent, named by the provider.
    await expect(page.locator('.me').textContent()).resolves.toBe('Grace');
    await screenshot(page, 'sso-signed-in');
    // The list has loaded before the reload, which would otherwise abort its request.
    await page.getByText('No conversations').waitFor();
    // A reload keeps the session (the refresh token, as after a password sign-in).
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByText('No conversations').waitFor();
  });

  it('shows why the provider’s answer was refused, on the callback page', async () => {
    const watched = await bed.open();
    const { page } = watched;
    const logged = page.waitForEvent(
      'console',
      (message) => message.type() === 'error' && message.text().includes('403'),
    );
    await signInAtProvider(page, 'mallory@sso.test', 'idp password 2');
    await page.getByRole('alert').getByText('has not verified mallory@sso.test').waitFor();
    await logged;
    await screenshot(page, 'sso-refused');
    await page.getByRole('link', { name: 'Back to sign in' }).click();
    await page.getByRole('button', { name: 'Sign in with SSO' }).waitFor();
    await watched.context.close();
    // Chromium logs the callback's 403 as a console error: that answer is this step's point.
    expect(watched.problems.length).toBeGreaterThan(0);
    expect(watched.problems.every((p) => p.includes('403') && p.includes('/v1/auth/sso/callback'))).toBe(
      true,
    );
    watched.problems.length = 0;
  });
});

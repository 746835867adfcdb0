// Links in mails, end to end: the stack's API process (packages/devstack) sends its mails through
// SMTP to a real SMTP server this test starts (smtp-server, read back with mailparser); each link
// is taken from the mail as it arrived and opened in real Chromium, which sets the password on
// the accept-invite page and lands signed in. An invite made and resent in the Team page, then a
// password reset requested through the API.
import type { AddressInfo } from 'node:net';
import type { StackTenant } from '@switchboard/devstack';
import { freePort } from '@switchboard/testing';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, signIn, type WatchedPage } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

const ADMIN = { email: 'admin@links.test', password: 'admin password 1' };

let bed: InboxTestbed;
let tenant: StackTenant;
let smtp: SMTPServer;
const received: ParsedMail[] = [];
const waiters: { match: (mail: ParsedMail) => boolean; resolve: (mail: ParsedMail) => void }[] = [];

/** The first mail from now on (or already received and not yet taken) that `match` accepts. */
function nextMail(match: (mail: ParsedMail) => boolean): Promise<ParsedMail> {
  const index = received.findIndex(match);
  if (index >= 0) return Promise.resolve(received.splice(index, 1)[0]!);
  return new Promise((resolve) => waiters.push({ match, resolve }));
}

const to = (address: string, subject: string) => (mail: ParsedMail) =>
  mail.subject === subject && mail.to !== undefined && JSON.stringify(mail.to).includes(address);

/** The accept-invite link of a mail's plain-text part. */
function linkOf(mail: ParsedMail): string {
  const match = new RegExp(`${tenant.apiUrl}/accept-invite#token=\\S+`).exec(mail.text ?? '');
  if (!match) throw new Error(`no accept-invite link in: ${mail.text}`);
  return match[0];
}

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          const waiter = waiters.find((w) => w.match(mail));
          if (waiter) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(mail);
          } else received.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(0, '127.0.0.1', () => resolve());
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  // The API's port is chosen here: PUBLIC_URL (the links' origin) must name it before it starts.
  const apiPort = await freePort();
  bed = await startInboxTestbed('links', (run) => ({
    tenants: [
      {
        slug: `links-${run}`,
        displayName: 'Links Co',
        admin: { ...ADMIN, displayName: 'Ada Admin' },
        worker: false,
      },
    ],
    apiPorts: [apiPort],
    processEnv: {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpPort),
      SMTP_TLS: 'none',
      SMTP_FROM: 'Links Co <no-reply@links.test>',
      PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
    },
  }));
  tenant = bed.stack.tenants[0]!;
}, 120_000);

afterEach(() => bed.closePages());

// Each test builds on a running stack and waits for real mail; on a loaded machine a step can
// take several seconds, so the steps get 30 s each (still under the test's own 120 s, so a failure
// names the step) instead of the harness's 10 s.
const STEP_MS = 30_000;
const TEST_MS = 120_000;

async function openPage(): Promise<WatchedPage> {
  const watched = await bed.open();
  watched.context.setDefaultTimeout(STEP_MS);
  return watched;
}

afterAll(async () => {
  await bed?.stop();
  if (smtp) await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

/** Opens a mailed link, sets `password` in the form named `form`, and waits until signed in. */
async function setPasswordFromLink(
  page: WatchedPage['page'],
  link: string,
  form: string,
  email: string,
  password: string,
) {
  await page.goto(link);
  const filled = page.getByRole('form', { name: form });
  await filled.getByText(email).waitFor();
  await filled.getByLabel('New password').fill(password);
  await filled.getByLabel('Repeat the password').fill(password);
  await filled.getByRole('button', { name: 'Set password and sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  expect(new URL(page.url()).pathname).toBe('/');
  expect(new URL(page.url()).hash).toBe('');
}

describe('links in mails', () => {
  it(
    'an invite mailed from the Team page, resent, opens the accept page and signs the member in',
    async () => {
      const admin = await openPage();
      await signIn(admin.page, tenant.apiUrl, ADMIN);
      await admin.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Team' }).click();
      const inviteForm = admin.page.getByRole('form', { name: 'Invite a member' });
      await inviteForm.getByLabel('Email').fill('mia@links.test');
      await inviteForm.getByLabel('Name').fill('Mia Member');
      await inviteForm.getByLabel('Role').selectOption('agent');
      await inviteForm.getByRole('button', { name: 'Invite' }).click();
      const first = await nextMail(to('mia@links.test', 'You are invited to Links Co'));
      expect(first.text).toContain(
        'Hello Mia Member, you are invited to the Links Co inbox on Switchboard as agent.',
      );

      // Pending, with its expiry; resent: a second mail with a new link, the first one dead.
      const pending = admin.page.getByRole('table', { name: 'Pending invites' });
      await pending.getByText('mia@links.test').waitFor();
      await pending.getByRole('button', { name: 'Resend the invite to mia@links.test' }).click();
      const second = await nextMail(to('mia@links.test', 'You are invited to Links Co'));
      expect(linkOf(second)).not.toBe(linkOf(first));
      await screenshot(admin.page, 'team-pending-invites');
      const oldToken = decodeURIComponent(linkOf(first).split('#token=')[1]!);
      const dead = await fetch(`${tenant.apiUrl}/v1/auth/invite`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: oldToken }),
      });
      expect(dead.status).toBe(400);

      const member = await openPage();
      await setPasswordFromLink(
        member.page,
        linkOf(second),
        'Accept the invite',
        'mia@links.test',
        'mia password 1234',
      );
      await member.page.getByText('Mia Member').first().waitFor();
      await screenshot(member.page, 'mailed-invite-accepted');
    },
    TEST_MS,
  );

  it(
    'a password reset mail opens the page that sets a new password and signs in',
    async () => {
      const requested = await fetch(`${tenant.apiUrl}/v1/auth/password-reset`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: ADMIN.email }),
      });
      expect(requested.status).toBe(202);
      const mail = await nextMail(to(ADMIN.email, 'Reset your Links Co password'));
      const page = await openPage();
      await setPasswordFromLink(
        page.page,
        linkOf(mail),
        'Reset your password',
        ADMIN.email,
        'a brand new password',
      );
      await screenshot(page.page, 'mailed-reset-signed-in');
      // The member is told, by mail, that the password changed.
      const notice = await nextMail(to(ADMIN.email, 'Your Links Co password was changed'));
      expect(notice.text).toContain('the password of your Links Co account (admin@links.test) was changed');
      const login = await fetch(`${tenant.apiUrl}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: ADMIN.email, password: 'a brand new password' }),
      });
      expect(login.status).toBe(200);
    },
    TEST_MS,
  );
});

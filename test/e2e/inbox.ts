/**
 * The inbox in Chromium through the Ingress URL, for the e2e run (test/e2e/run.sh): Chromium as
 * the toolchain installs it (/usr/bin/chromium, launched like services/inbox/test/harness.ts
 * does), the tenant's host resolved to Traefik on 127.0.0.1:18080, so the page is
 * http://<host>/ exactly as a user would open it. The first owner opens the invite link (from
 * the Secret status.ownerInvite names), sets the password on the accept-invite page and is
 * signed in; logs out and signs in again with it; the spent link is refused. Then a customer
 * message sent by the emulator appears in the list and in its thread; the reply typed in the
 * composer reaches the emulator exactly once.
 *
 * The emulator runs in the cluster (test/e2e/emulator.yaml): its control API is reached through
 * the same Traefik, with the emulator URL's host (meta.e2e.test) as the Host header.
 *
 *   node test/e2e/inbox.ts <host> <email> <password> <emulator URL> <screenshots dir> <invite link>
 */
import { mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [host, email, password, emulator, screenshots, invite] = process.argv.slice(2);
if (!host || !email || !password || !emulator || !screenshots || !invite) {
  console.error('usage: inbox.ts <host> <email> <password> <emulator URL> <screenshots dir> <invite link>');
  process.exit(2);
}
if (!invite.startsWith(`http://${host}/accept-invite#token=`)) {
  console.error(`the invite link is not the tenant's accept-invite page on http://${host}/: ${invite}`);
  process.exit(2);
}
const emulatorHost = new URL(emulator).host;
const customer = '5511999990001';
const inbound = 'Oi, vim pelo navegador';
const reply = 'Resposta digitada no inbox';

const say = (line: string) => process.stderr.write(`[inbox] ${line}\n`);

interface Sent {
  messages: { request: { text?: { body?: string } } }[];
}
/** A request to the emulator through Traefik (fetch cannot set Host): status and parsed body. */
function emulatorRequest(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: 18080,
        method,
        path,
        timeout: 30_000,
        headers: {
          host: emulatorHost,
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown });
          } catch {
            reject(new Error(`${method} ${path} at the emulator: ${res.statusCode} ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} at the emulator: no answer in 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function sentBodies(): Promise<string[]> {
  const { json } = await emulatorRequest('GET', `/_emulator/sent?to=${customer}`);
  return (json as Sent).messages.flatMap((m) => (m.request.text?.body ? [m.request.text.body] : []));
}

await mkdir(screenshots, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    // The Ingress URL's host is Traefik on this machine: no DNS entry, no other traffic.
    `--host-resolver-rules=MAP ${host}:80 127.0.0.1:18080, EXCLUDE localhost`,
    // The Ingress here has no TLS; a deployed inbox is served over HTTPS, a secure context, and
    // relies on it (crypto.randomUUID keys each message being sent): treat this origin as one.
    `--unsafely-treat-insecure-origin-as-secure=http://${host}`,
  ],
});
const problems: string[] = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  const fail = async (message: string): Promise<never> => {
    await page.screenshot({ path: join(screenshots, 'failed.png') }).catch(() => undefined);
    for (const problem of problems) say(problem);
    throw new Error(message);
  };

  // The invite link as the platform team hands it over: the page names the invited address.
  await page.goto(invite);
  const form = page.getByRole('form', { name: 'Accept the invite' });
  await form.waitFor().catch(() => fail(`the invite link does not show the accept-invite form`));
  const greeting = (await form.textContent()) ?? '';
  if (!greeting.includes(`Set a password for ${email}`))
    await fail(`the accept-invite page does not name ${email}: '${greeting}'`);
  await page.screenshot({ path: join(screenshots, 'accept-invite.png') });
  await form.getByLabel('New password').fill(password);
  await form.getByLabel('Repeat the password').fill(password);
  await form.getByRole('button', { name: 'Set password and sign in' }).click();
  // The page signs in with the new password and leaves for the inbox, the token out of the URL.
  await page
    .getByRole('navigation', { name: 'Main' })
    .waitFor()
    .catch(async () => {
      const alert = await page
        .getByRole('alert')
        .textContent({ timeout: 1_000 })
        .catch(() => '');
      return fail(
        `setting the password on the accept-invite page did not sign in${alert ? `: ${alert}` : ''}`,
      );
    });
  if (page.url() !== `http://${host}/`)
    await fail(`after the invite the page is at ${page.url()}, want http://${host}/`);
  say(`the invite link set the password and signed ${email} in at http://${host}/`);

  // Signing in through the Ingress with the password just set.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByText('You signed out.').waitFor();
  const started = Date.now();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await page.getByRole('status', { name: 'Realtime connection' }).getByText('Live').waitFor();
  say(`signed in through http://${host}/ in ${Date.now() - started} ms`);

  // The link is single-use: opened again (another browser, nothing stored), it says so.
  const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  other.setDefaultTimeout(30_000);
  const again = await other.newPage();
  await again.goto(invite);
  const refused = again.getByRole('alert');
  await refused.waitFor();
  const refusal = (await refused.textContent()) ?? '';
  if (!refusal.includes('expired or was already used'))
    await fail(`the spent invite link shows '${refusal}'`);
  if ((await again.getByRole('form', { name: 'Accept the invite' }).count()) !== 0)
    await fail('the spent invite link still shows the form');
  await again.screenshot({ path: join(screenshots, 'invite-spent.png') });
  await other.close();
  say(`the spent invite link says: ${refusal}`);

  const sentAt = Date.now();
  const delivery = await emulatorRequest('POST', '/_emulator/customer/messages', {
    from: customer,
    name: 'Cliente Navegador',
    type: 'text',
    text: inbound,
  });
  if (delivery.status !== 200)
    throw new Error(`the emulator did not send the customer message: ${delivery.status}`);
  const row = page.getByRole('link', { name: /^Cliente Navegador/ });
  await row.waitFor();
  say(`the customer's message in the list ${Date.now() - sentAt} ms after the emulator sent it`);
  await row.click();
  const thread = page.getByRole('list', { name: 'Messages with Cliente Navegador' });
  await thread.getByText(inbound).waitFor();
  await page.screenshot({ path: join(screenshots, 'thread.png') });

  const box = page.getByRole('textbox', { name: 'Message' });
  await box.click();
  await box.pressSequentially(reply);
  if ((await box.inputValue()) !== reply)
    throw new Error(`the composer holds '${await box.inputValue()}' after typing`);
  const posted = page.waitForResponse(
    (r) => r.url().endsWith('/v1/messages') && r.request().method() === 'POST',
    { timeout: 30_000 },
  );
  await box.press('Enter');
  const response = await posted.catch(() => undefined);
  say(`the composer's POST /v1/messages answered ${response ? response.status() : 'nothing'}`);
  if (!response?.ok()) {
    await page.screenshot({ path: join(screenshots, 'failed.png') });
    for (const problem of problems) say(problem);
    throw new Error(
      `the reply typed in the inbox was not accepted: ${response ? `${response.status()} ${await response.text()}` : 'no request'}`,
    );
  }
  const bubble = thread.locator('li.bubble.outbound').filter({ hasText: reply });
  await bubble.waitFor().catch(async (error: unknown) => {
    await page.screenshot({ path: join(screenshots, 'failed.png') });
    throw error;
  });
  const deadline = Date.now() + 60_000;
  let bodies = await sentBodies();
  while (!bodies.includes(reply)) {
    if (Date.now() > deadline) throw new Error('the reply typed in the inbox never reached the emulator');
    await new Promise((resolve) => setTimeout(resolve, 500));
    bodies = await sentBodies();
  }
  // Read last: once the bubble shows read, the emulator's statuses came back and the send is over.
  await bubble.getByRole('img', { name: 'Status: read' }).waitFor({ timeout: 60_000 });
  bodies = await sentBodies();
  const times = bodies.filter((b) => b === reply).length;
  if (times !== 1) throw new Error(`the emulator received the reply ${times} times, want exactly 1`);
  await page.screenshot({ path: join(screenshots, 'replied.png') });
  if (problems.length > 0) throw new Error(`the page failed:\n${problems.join('\n')}`);
  say('the reply typed in the inbox reached the emulator exactly once, its ticks at read');
} finally {
  await browser.close();
}

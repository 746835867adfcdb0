/**
 * The inbox in Chromium through the Ingress URL, for the e2e run (test/e2e/run.sh): Chromium as
 * the toolchain installs it (/usr/bin/chromium, launched like services/inbox/test/harness.ts
 * does), the tenant's host resolved to Traefik on 127.0.0.1:18080, so the page is
 * http://<host>/ exactly as a user would open it. The owner signs in; a customer message sent by
 * the emulator appears in the list and in its thread; the reply typed in the composer reaches the
 * emulator exactly once.
 *
 *   node test/e2e/inbox.ts <host> <email> <password> <emulator URL> <screenshots dir>
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [host, email, password, emulator, screenshots] = process.argv.slice(2);
if (!host || !email || !password || !emulator || !screenshots) {
  console.error('usage: inbox.ts <host> <email> <password> <emulator URL> <screenshots dir>');
  process.exit(2);
}
const customer = '5511999990001';
const inbound = 'Oi, vim pelo navegador';
const reply = 'Resposta digitada no inbox';

const say = (line: string) => process.stderr.write(`[inbox] ${line}\n`);

interface Sent {
  messages: { request: { text?: { body?: string } } }[];
}
async function sentBodies(): Promise<string[]> {
  const response = await fetch(`${emulator}/_emulator/sent?to=${customer}`);
  const body = (await response.json()) as Sent;
  return body.messages.flatMap((m) => (m.request.text?.body ? [m.request.text.body] : []));
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
  const started = Date.now();
  await page.goto(`http://${host}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await page.getByRole('status', { name: 'Realtime connection' }).getByText('Live').waitFor();
  say(`signed in through http://${host}/ in ${Date.now() - started} ms`);

  const sentAt = Date.now();
  const delivery = await fetch(`${emulator}/_emulator/customer/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: customer, name: 'Cliente Navegador', type: 'text', text: inbound }),
  });
  if (!delivery.ok) throw new Error(`the emulator did not send the customer message: ${delivery.status}`);
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

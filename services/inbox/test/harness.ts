import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { expect } from 'vitest';

/** The inbox package (services/inbox). */
export const INBOX_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Where the screenshots go (a CI artifact). */
export const SCREENSHOTS = fileURLToPath(new URL('../../../.test-results/inbox/', import.meta.url));

/** Builds the SPA into a temporary directory, so the tests never depend on a stale dist/. */
export async function buildInbox(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'switchboard-inbox-'));
  await build({
    root: INBOX_ROOT,
    configFile: join(INBOX_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

/** Chromium as installed by the toolchain (never downloaded). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A page whose console errors, page errors and failed requests are recorded as problems. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  problems: string[];
  /** While true, failed requests are expected (the test took the browser offline). */
  offline: { value: boolean };
  /**
   * Problems the test provokes on purpose (an API refusal Chromium logs), matched by `expect`:
   * kept in `expected` instead of `problems`, however late Chromium reports them.
   */
  expected: { patterns: RegExp[]; seen: string[] };
}

/**
 * A new context and page that records every console error, uncaught error and failed request.
 * An aborted GET is not a failure: navigation, a reload, logout and going offline end the
 * realtime stream and any read in flight on purpose.
 */
export async function watchedPage(
  browser: Browser,
  options: { width?: number; height?: number } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
  });
  // Well under the test's own timeout, so a failure names the locator it was waiting for.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems: string[] = [];
  const offline = { value: false };
  const expected = { patterns: [] as RegExp[], seen: [] as string[] };
  const record = (problem: string) =>
    (expected.patterns.some((p) => p.test(problem)) ? expected.seen : problems).push(problem);
  page.on('console', (message) => {
    // Offline, Chromium logs each request it could not make; those are the test's doing.
    if (message.type() === 'error' && !offline.value)
      record(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText ?? '';
    // A read the page itself gave up (a reload or a navigation while it was in flight, a
    // component that went away) is not a failure; a write that did not complete is.
    if (failure.includes('ERR_ABORTED') && request.method() === 'GET') return;
    if (offline.value) return;
    record(`requestfailed: ${request.method()} ${request.url()} ${failure}`);
  });
  return { page, context, problems, offline, expected };
}

/**
 * Marks the problems matching `pattern` as the test's own from now on (an API refusal Chromium
 * logs, once or more, possibly after the page shows it): they are kept apart, never failing the
 * page. The returned function waits until one more such problem was seen.
 */
export function expectProblem(watched: WatchedPage, pattern: RegExp): () => Promise<void> {
  const count = () => watched.expected.seen.filter((p) => pattern.test(p)).length;
  const before = count();
  watched.expected.patterns.push(pattern);
  return async () => {
    await expect.poll(count, { timeout: 10_000 }).toBeGreaterThan(before);
  };
}

/** A GET of the tenant's API as its admin (a login of its own), answered 200; its JSON body. */
export async function adminGet<T>(
  tenant: { apiUrl: string; admin: { email: string; password: string } },
  path: string,
): Promise<T> {
  const login = await fetch(`${tenant.apiUrl}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tenant.admin),
  });
  const { accessToken } = (await login.json()) as { accessToken: string };
  const res = await fetch(`${tenant.apiUrl}${path}`, { headers: { authorization: `Bearer ${accessToken}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

/** Saves a screenshot of the page as `.test-results/inbox/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Signs in through the login form. */
export async function signIn(
  page: Page,
  url: string,
  admin: { email: string; password: string },
): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await page
    .getByRole('status', { name: 'Realtime connection' })
    .getByText('Live')
    .waitFor()
    .catch((error: Error) => {
      throw new Error(
        `the inbox never held a live realtime stream (GET /v1/realtime opened and ended at once?): ${error.message}`,
      );
    });
}

/** The emulator's customer sends a text (delivered to the API as Meta's signed webhook). */
export async function customerSends(
  emulatorUrl: string,
  from: string,
  name: string,
  text: string,
): Promise<void> {
  const res = await fetch(`${emulatorUrl}/_emulator/customer/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from, name, text }),
  });
  if (!res.ok)
    throw new Error(`the emulator refused the customer message: ${res.status} ${await res.text()}`);
}

/** What the business sent to `to`, as the emulator received it. */
export async function sentTo(
  emulatorUrl: string,
  to: string,
): Promise<{ id: string; request: { text?: { body: string } }; statuses: string[] }[]> {
  const res = await fetch(`${emulatorUrl}/_emulator/sent?to=${to}`);
  const body = (await res.json()) as {
    messages: { id: string; request: { text?: { body: string } }; statuses: string[] }[];
  };
  return body.messages;
}

/** Reports a status of a business message, as Meta would (the stack runs with manual statuses). */
export async function reportStatus(emulatorUrl: string, id: string, status: 'sent' | 'delivered' | 'read') {
  const res = await fetch(`${emulatorUrl}/_emulator/messages/${encodeURIComponent(id)}/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status }),
  });
  if (!res.ok) throw new Error(`the emulator refused the status: ${res.status} ${await res.text()}`);
}

/** Polls until `probe` holds. */
export async function eventually(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The inbox in Chromium against the local stack (packages/devstack: API, worker, Postgres, Redis,
// the Cloud API emulator):
//   1. latency from the emulator sending a customer message to the message being visible in the
//      open thread, over 200 messages, beside the raw arrival of the same message's realtime
//      event at a plain SSE client in this process (the baseline: what the page cannot beat);
//   2. time to interactive of the conversation list with 10k conversations, beside the same
//      page's rows served as static HTML (the baseline: the browser's own cost of those rows).
//
//   node bench/inbox/run.ts [--messages 200] [--conversations 10000] [--in-process-api]
//
// --in-process-api serves the browser from an API built in this process with buildApp (the same
// code server.ts runs) on a Redis client that queues commands while connecting; see README.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDb } from '@switchboard/db';
import { startStack } from '@switchboard/devstack';
import { Redis } from 'ioredis';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { build } from 'vite';

/** The few DOM types the page functions use (this file is compiled without lib.dom). */
interface PageElement {
  textContent: string | null;
  outerHTML: string;
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
}
interface PageGlobals {
  document: {
    body: unknown;
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): Iterable<PageElement>;
  };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: object): void };
  benchSeen: Record<string, number>;
}

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200' },
    conversations: { type: 'string', default: '10000' },
    'in-process-api': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const CONVERSATIONS = Number(values.conversations);
const log = (line: string) => process.stderr.write(`${line}\n`);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    max: round(sorted.at(-1)!),
  };
}

const inboxRoot = fileURLToPath(new URL('../../services/inbox/', import.meta.url));
const outDir = await mkdtemp(join(tmpdir(), 'switchboard-bench-inbox-'));
log('building the inbox');
await build({
  root: inboxRoot,
  configFile: join(inboxRoot, 'vite.config.ts'),
  logLevel: 'warn',
  build: { outDir, emptyOutDir: true },
});

log('starting the stack');
const stack = await startStack({
  tenants: [
    {
      slug: 'bench',
      displayName: 'Bench',
      admin: { email: 'admin@bench.test', password: 'bench password 1', displayName: 'Bench Agent' },
      cloudApi: {},
    },
  ],
  inboxDir: outDir,
  statuses: { mode: 'manual' },
});
const tenant = stack.tenants[0]!;
const emulatorUrl = tenant.cloudApi!.emulator.url;
let apiUrl = tenant.apiUrl;
const closers: (() => Promise<unknown>)[] = [];
if (values['in-process-api']) {
  const { buildApp } = await import('../../services/api/src/app.ts');
  const redis = new Redis({ ...stack.redis, maxRetriesPerRequest: null });
  const db = createDb({ databaseUrl: tenant.databaseUrl, maxConnections: 8 });
  const app = await buildApp({
    db,
    redis,
    tenant: { slug: tenant.slug, displayName: 'Bench' },
    jwtSigningKey: randomBytes(32).toString('hex'),
    inboxDir: outDir,
    internalToken: tenant.internalToken,
    rateLimitPerMinute: 1_000_000,
  });
  apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(
    () => app.close(),
    () => db.$disconnect(),
    async () => redis.disconnect(),
  );
}

async function token(): Promise<string> {
  const res = await fetch(`${apiUrl}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tenant.admin),
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}
async function customerSends(from: string, text: string): Promise<void> {
  const res = await fetch(`${emulatorUrl}/_emulator/customer/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from, name: 'Bench Customer', text }),
  });
  if (!res.ok) throw new Error(`emulator: ${res.status}`);
}

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
  ],
});
const results: Record<string, unknown> = {
  messages: MESSAGES,
  conversations: CONVERSATIONS,
  inProcessApi: values['in-process-api'],
};
try {
  // 1. Message latency.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(apiUrl);
  await page.getByLabel('Email').fill(tenant.admin.email);
  await page.getByLabel('Password').fill(tenant.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page
    .getByRole('status', { name: 'Realtime connection' })
    .getByText('Live')
    .waitFor({ timeout: 30_000 });
  const CUSTOMER = '15557770001';
  await customerSends(CUSTOMER, 'warm-up');
  await page.getByRole('link', { name: /Bench Customer/ }).click();
  await page
    .getByRole('list', { name: /Messages with/ })
    .getByText('warm-up')
    .waitFor({ timeout: 30_000 });
  // The page records, in epoch ms, when each bench message's bubble enters the DOM.
  await page.evaluate(() => {
    const w = globalThis as unknown as PageGlobals;
    const seen: Record<string, number> = {};
    w.benchSeen = seen;
    new w.MutationObserver(() => {
      for (const el of w.document.querySelectorAll('li.bubble .body')) {
        const text = el.textContent ?? '';
        if (text.startsWith('bench-') && !(text in seen))
          seen[text] = performance.timeOrigin + performance.now();
      }
    }).observe(w.document.body, { childList: true, subtree: true, characterData: true });
  });

  // The baseline: a plain SSE reader in this process, noting each message.created's arrival.
  const sseArrivals: number[] = [];
  const sse = new AbortController();
  const sseRes = await fetch(`${apiUrl}/v1/realtime`, {
    headers: { authorization: `Bearer ${await token()}` },
    signal: sse.signal,
  });
  void (async () => {
    const reader = sseRes.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const events = buffer.split('\n\n');
        buffer = events.pop() ?? '';
        for (const e of events) if (e.includes('event: message.created')) sseArrivals.push(Date.now());
      }
    } catch {
      // aborted at the end
    }
  })();
  const visible: number[] = [];
  const raw: number[] = [];
  // The page's fetches of single messages while they arrive (none when the events carry them).
  let messageFetches = 0;
  page.on('request', (request) => {
    if (/\/v1\/messages\/[^/]+$/.test(new URL(request.url()).pathname)) messageFetches += 1;
  });
  log(`sending ${MESSAGES} messages`);
  for (let i = 0; i < MESSAGES; i++) {
    const text = `bench-${i}`;
    const before = sseArrivals.length;
    const sentAt = Date.now();
    await customerSends(CUSTOMER, text);
    await page.waitForFunction((t) => t in (globalThis as unknown as PageGlobals).benchSeen, text, {
      timeout: 30_000,
      polling: 'raf',
    });
    const seenAt = await page.evaluate((t) => (globalThis as unknown as PageGlobals).benchSeen[t]!, text);
    visible.push(seenAt - sentAt);
    while (sseArrivals.length <= before) await new Promise((r) => setTimeout(r, 1));
    raw.push(sseArrivals[before]! - sentAt);
  }
  sse.abort();
  await context.close();
  results.messageVisible = stats(visible);
  results.sseEventArrival = stats(raw);
  results.messageFetches = messageFetches;
  log(
    `message latency: ${JSON.stringify(results.messageVisible)}, raw SSE: ${JSON.stringify(results.sseEventArrival)}, GET /v1/messages/:id: ${messageFetches}`,
  );

  // 2. List time to interactive with N conversations.
  log(`seeding ${CONVERSATIONS} conversations`);
  const owner = new pg.Client({ connectionString: tenant.ownerDatabaseUrl });
  owner.on('error', () => undefined);
  await owner.connect();
  // The tables force row-level security even for their owner: act as the tenant.
  await owner.query(`SELECT set_config('switchboard.tenant_id', $1, false)`, [tenant.tenantId]);
  const sessionId = (
    await owner.query<{ id: string }>('SELECT id FROM sessions WHERE tenant_id = $1 LIMIT 1', [
      tenant.tenantId,
    ])
  ).rows[0]!.id;
  const t = [tenant.tenantId];
  // Ids from gen_random_uuid(): the API's answers are checked as RFC 9562 uuids.
  await owner.query(
    `CREATE TEMP TABLE seed AS SELECT g, gen_random_uuid() AS contact_id, gen_random_uuid() AS conversation_id FROM generate_series(1, ${CONVERSATIONS}) g`,
  );
  await owner.query(
    `INSERT INTO contacts (id, tenant_id, display_name) SELECT contact_id, $1, 'Bench contact ' || g FROM seed`,
    t,
  );
  await owner.query(
    `INSERT INTO contact_identities (tenant_id, contact_id, kind, value) SELECT $1, contact_id, 'pn', (15550000000 + g)::text FROM seed`,
    t,
  );
  await owner.query(
    `INSERT INTO conversations (id, tenant_id, session_id, contact_id, last_message_at, unread_count)
     SELECT conversation_id, $1, $2, contact_id, now() - g * interval '1 minute', g % 3 FROM seed`,
    [tenant.tenantId, sessionId],
  );
  await owner.query(
    `INSERT INTO messages (tenant_id, session_id, conversation_id, direction, status, type, body, created_at)
     SELECT $1, $2, conversation_id, 'inbound', 'delivered', 'text', 'Bench message number ' || g, now() - g * interval '1 minute' FROM seed`,
    [tenant.tenantId, sessionId],
  );
  await owner.query('ANALYZE contacts, contact_identities, conversations, messages');
  await owner.end();

  const listContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const listPage = await listContext.newPage();
  await listPage.goto(apiUrl);
  await listPage.getByLabel('Email').fill(tenant.admin.email);
  await listPage.getByLabel('Password').fill(tenant.admin.password);
  await listPage.getByRole('button', { name: 'Sign in' }).click();
  await listPage
    .getByRole('link', { name: /Bench contact 1\b/ })
    .waitFor({ timeout: 30_000 })
    .catch(async (error) => {
      await listPage.screenshot({ path: '/tmp/bench-inbox-list.png' });
      throw error;
    });
  const rowsHtml = await listPage.evaluate(
    () => (globalThis as unknown as PageGlobals).document.querySelector('ul.conversations')!.outerHTML,
  );
  const cssHref = await listPage.locator('link[rel=stylesheet]').getAttribute('href');
  // "Interactive": the first page of rows is in the DOM and the list is no longer busy.
  const ready = () =>
    listPage.waitForFunction(
      () => {
        const ul = (globalThis as unknown as PageGlobals).document.querySelector('ul.conversations');
        return ul &&
          ul.getAttribute('aria-busy') !== 'true' &&
          [...ul.querySelectorAll('a[data-conversation]')].length >= 50
          ? performance.now()
          : false;
      },
      undefined,
      { polling: 'raf', timeout: 30_000 },
    );
  const tti: number[] = [];
  for (let i = 0; i < 7; i++) {
    // A reload: the refresh token in sessionStorage signs in again, as a returning agent would.
    await listPage.reload();
    tti.push(Number(await (await ready()).jsonValue()));
  }
  results.listTimeToInteractive = stats(tti.slice(2));
  // The baseline: the same rows and stylesheet as a static page (no script, no API).
  const staticPage = `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="${cssHref}"></head><body><div class="inbox"><section class="list-pane">${rowsHtml.replace('aria-busy="true"', '')}</section></div></body></html>`;
  await listPage.route(`${apiUrl}/__bench/static-list`, (route) =>
    route.fulfill({ contentType: 'text/html', body: staticPage }),
  );
  const baseline: number[] = [];
  for (let i = 0; i < 7; i++) {
    await listPage.goto(`${apiUrl}/__bench/static-list`);
    baseline.push(Number(await (await ready()).jsonValue()));
  }
  results.staticListBaseline = stats(baseline.slice(2));
  await listContext.close();
} catch (error) {
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  for (const close of closers) await close().catch(() => undefined);
  await stack.stop();
  await rm(outDir, { recursive: true, force: true });
}

if (process.exitCode) process.exit();
const out = fileURLToPath(new URL('results.json', import.meta.url));
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
const r = results as Record<string, { p50: number; p95: number; n: number }>;
process.stdout.write(`| measure | n | p50 ms | p95 ms |
| --- | --- | --- | --- |
| emulator send -> visible in the open thread | ${r.messageVisible!.n} | ${r.messageVisible!.p50} | ${r.messageVisible!.p95} |
| baseline: emulator send -> SSE event at a raw client | ${r.sseEventArrival!.n} | ${r.sseEventArrival!.p50} | ${r.sseEventArrival!.p95} |
| list time to interactive, ${CONVERSATIONS} conversations | ${r.listTimeToInteractive!.n} | ${r.listTimeToInteractive!.p50} | ${r.listTimeToInteractive!.p95} |
| baseline: the same rows as static HTML | ${r.staticListBaseline!.n} | ${r.staticListBaseline!.p50} | ${r.staticListBaseline!.p95} |\n`);

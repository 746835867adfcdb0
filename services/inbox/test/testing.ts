// Test-only: the stack and the browser the inbox's test files run against, started and stopped
// as one (a test-only helper: it starts the development tools, packages/devstack and
// packages/testing).
import { rm } from 'node:fs/promises';
import { type Stack, type StackOptions, startStack } from '@switchboard/devstack';
import { adminDatabaseUrl, redisOptions, uniquePrefix } from '@switchboard/testing';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';
import { buildInbox, launchChromium, type WatchedPage, watchedPage } from './harness.ts';

/** What a browser test file runs against: the stack serving a fresh build of the inbox, and Chromium. */
export interface InboxTestbed {
  stack: Stack;
  browser: Browser;
  /** A new watched page, closed (and its problems checked) by {@link InboxTestbed.closePages}. */
  open(options?: { width?: number; height?: number }): Promise<WatchedPage>;
  /** Closes the pages opened since the last call, then fails if any recorded a problem (afterEach). */
  closePages(): Promise<void>;
  /** Closes Chromium, stops the stack and removes the build (afterAll). */
  stop(): Promise<void>;
}

/**
 * Builds the inbox, then starts Chromium and the stack (serving that build, on the test run's
 * Postgres and Redis) side by side. `stackOptions` gets a short suffix of this run's own, to name
 * the tenants so that files running in parallel never share one.
 */
export async function startInboxTestbed(
  name: string,
  stackOptions: (run: string) => Omit<StackOptions, 'inboxDir' | 'postgresAdminUrl' | 'redis'>,
): Promise<InboxTestbed> {
  const run = uniquePrefix(name)
    .slice(-6)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  const inboxDir = await buildInbox();
  const { host, port } = redisOptions();
  const [started, launched] = await Promise.allSettled([
    startStack({
      ...stackOptions(run),
      inboxDir,
      postgresAdminUrl: adminDatabaseUrl(),
      redis: { host, port },
    }),
    launchChromium(),
  ]);
  if (started.status === 'rejected' || launched.status === 'rejected') {
    // Whichever half started is stopped, so a failed start leaves nothing behind.
    if (launched.status === 'fulfilled') await launched.value.close();
    if (started.status === 'fulfilled') await started.value.stop();
    await rm(inboxDir, { recursive: true, force: true });
    throw started.status === 'rejected' ? started.reason : (launched as PromiseRejectedResult).reason;
  }
  const [stack, browser] = [started.value, launched.value];
  const pages: WatchedPage[] = [];
  return {
    stack,
    browser,
    async open(options = {}) {
      const watched = await watchedPage(browser, options);
      pages.push(watched);
      return watched;
    },
    async closePages() {
      const problems = pages.flatMap((p) => p.problems);
      for (const p of pages.splice(0)) await p.context.close().catch(() => undefined);
      expect(problems, problems.join('\n')).toEqual([]);
    },
    async stop() {
      await browser.close();
      await stack.stop();
      await rm(inboxDir, { recursive: true, force: true });
    },
  };
}

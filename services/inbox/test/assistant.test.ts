// The AI assistant in real Chromium against the real stack (packages/devstack: the API serving
// this build, a worker, Postgres, Redis, the Cloud API emulator as the customer's phone) and the
// chat-completions stand-in on loopback as the provider: an admin sets the provider up and turns
// the assistant on for the session in the page, a customer's question is answered through the
// provider once, the thread marks the reply as automated, the budget and the usage log show it,
// and the kill switch stops the next answer.
import type { StackTenant } from '@switchboard/devstack';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChatCompletionsServer,
  startChatCompletionsServer,
} from '../../../packages/assistant/src/testing/chat-completions-server.ts';
import { adminGet, customerSends, eventually, screenshot, sentTo, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
let emulatorUrl: string;
let provider: ChatCompletionsServer;
const NINA = '15555550909';

beforeAll(async () => {
  provider = await startChatCompletionsServer();
  bed = await startInboxTestbed('assistant', (run) => ({
    tenants: [
      {
        slug: `bot-${run}`,
        displayName: 'Bakery',
        admin: { email: 'admin@bakery.test', password: 'bakery password 1', displayName: 'Bea Baker' },
        cloudApi: { phoneNumberId: '106540352242999', displayPhoneNumber: '15551239999' },
      },
    ],
  }));
  tenant = bed.stack.tenants[0]!;
  emulatorUrl = tenant.cloudApi!.emulator.url;
}, 180_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
  await provider?.close();
});

type Usage = { items: { outcome: string; reason: string | null; tokensIn: number; tokensOut: number }[] };

describe('the AI assistant page', () => {
  it('turns the assistant on, answers a customer through the provider once, and pauses it', async () => {
    const { page } = await bed.open();
    await signIn(page, tenant.apiUrl, tenant.admin);
    await page.getByRole('link', { name: 'Assistant' }).click();
    await page.getByRole('heading', { name: 'AI assistant' }).waitFor();

    const providerForm = page.getByRole('form', { name: 'Provider' });
    await providerForm.getByLabel('API base URL (OpenAI-compatible)').fill(provider.baseUrl);
    await providerForm.getByLabel('Model').fill('gpt-4o-mini');
    await providerForm.getByLabel('Blocked topics (comma-separated)').fill('politics');
    await providerForm.getByRole('button', { name: 'Save provider' }).click();
    await providerForm.getByText('Saved').waitFor();

    const sessionForm = page.getByRole('form', { name: 'Session assistant' });
    await sessionForm.getByLabel("Answer this session's customers").check();
    await sessionForm.getByLabel('Knowledge').fill('We open at 09:00 every day.');
    await sessionForm.getByRole('button', { name: 'Save session assistant' }).click();
    await sessionForm.getByText('Saved').waitFor();
    await screenshot(page, 'assistant-settings');

    provider.script({ kind: 'answer', content: 'We open at 09:00.', promptTokens: 60, completionTokens: 6 });
    await customerSends(emulatorUrl, NINA, 'Nina Query', 'When do you open?');
    let sent: Awaited<ReturnType<typeof sentTo>> = [];
    await eventually(
      "the assistant's answer reaches the customer",
      async () => {
        sent = await sentTo(emulatorUrl, NINA);
        return sent.length > 0;
      },
      30_000,
    );
    expect(sent.map((m) => m.request.text?.body)).toEqual(['We open at 09:00.']);
    // The provider got the knowledge and the question.
    const request = provider.requests.at(-1)!;
    expect(request.body.messages[0]?.content).toContain('We open at 09:00 every day.');
    expect(request.body.messages.at(-1)).toEqual({ role: 'user', content: 'When do you open?' });

    // The thread marks the reply as automated.
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.getByRole('link', { name: /^Nina Query/ }).click();
    const thread = page.getByRole('list', { name: 'Messages with Nina Query' });
    const reply = thread.locator('li.bubble.outbound').filter({ hasText: 'We open at 09:00.' });
    await reply.getByText('Automated reply (assistant)').waitFor();
    await screenshot(page, 'assistant-thread');

    // The budget and the usage log show the one reply.
    await page.getByRole('link', { name: 'Assistant' }).click();
    const budget = page.getByRole('table', { name: 'Budget' });
    await budget.getByText('Replies: 1 used, 499 left').first().waitFor();
    await budget.getByText('Tokens: 66 used, 499934 left').waitFor();
    const log = page.getByRole('table', { name: 'Usage log' });
    await log.getByRole('cell', { name: 'replied', exact: true }).waitFor();

    // The kill switch: the next question is refused, and the log says why.
    await page.getByRole('button', { name: 'Pause the assistant' }).click();
    await page.getByText('The assistant is paused: it answers nobody.').waitFor();
    const calls = provider.requests.length;
    await customerSends(emulatorUrl, NINA, 'Nina Query', 'Are you there?');
    await eventually(
      'the refusal is logged',
      async () =>
        (await adminGet<Usage>(tenant, '/v1/assistant/usage')).items.some(
          (u) => u.reason === 'tenant_paused',
        ),
      30_000,
    );
    expect(provider.requests.length).toBe(calls);
    expect((await sentTo(emulatorUrl, NINA)).length).toBe(1);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await log.getByRole('cell', { name: 'refused (tenant_paused)' }).waitFor();
    await screenshot(page, 'assistant-usage');
  });
});

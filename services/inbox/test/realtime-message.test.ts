// A customer message reaching an open thread in real Chromium against the real stack
// (packages/devstack: the API process serving this build, a worker, Postgres, Redis and the Cloud
// API emulator as the customer's phone): the worker's `message.created` carries the message, so
// the thread shows it without a GET /v1/messages/:id; a message too long to be carried
// (REALTIME_MESSAGE_MAX_BODY_BYTES) is still shown, fetched by that GET.
import type { StackTenant } from '@switchboard/devstack';
import { REALTIME_MESSAGE_MAX_BODY_BYTES } from '@switchboard/messaging/producer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { customerSends, signIn } from './harness.ts';
import { type InboxTestbed, startInboxTestbed } from './testing.ts';

let bed: InboxTestbed;
let tenant: StackTenant;
const CUSTOMER = '15555550707';

beforeAll(async () => {
  bed = await startInboxTestbed('rtmsg', (run) => ({
    tenants: [
      {
        slug: `rtmsg-${run}`,
        displayName: 'Realtime Co',
        admin: { email: 'admin@rtmsg.test', password: 'rtmsg password 1', displayName: 'Rita Realtime' },
        cloudApi: { phoneNumberId: '106540352242977', displayPhoneNumber: '15551230077' },
      },
    ],
    statuses: { mode: 'manual' },
  }));
  tenant = bed.stack.tenants[0]!;
}, 120_000);

afterEach(() => bed.closePages());

afterAll(async () => {
  await bed?.stop();
});

describe('a message arriving in the open thread', () => {
  it('is shown from the realtime event without fetching it; one too long to carry is fetched', async () => {
    const { page } = await bed.open();
    const fetched: string[] = [];
    page.on('request', (request) => {
      const { pathname } = new URL(request.url());
      if (pathname.startsWith('/v1/messages/')) fetched.push(`${request.method()} ${pathname}`);
    });
    await signIn(page, tenant.apiUrl, tenant.admin);
    const emulatorUrl = tenant.cloudApi!.emulator.url;

    await customerSends(emulatorUrl, CUSTOMER, 'Olga Open', 'primeira mensagem');
    const row = page.getByRole('link', { name: /^Olga Open/ });
    await row.waitFor();
    await row.click();
    const thread = page.getByRole('list', { name: 'Messages with Olga Open' });
    await thread.getByText('primeira mensagem').waitFor();
    fetched.length = 0;

    // The thread is open: a new message is rendered from its event. A fetch would have been made
    // before the bubble could appear, so none having been made by then means none was needed.
    await customerSends(emulatorUrl, CUSTOMER, 'Olga Open', 'segunda, sem GET');
    await thread.getByText('segunda, sem GET').waitFor();
    expect(fetched).toEqual([]);

    // Over the bound (4-byte emoji, so the character count stays small): ids only, then the GET.
    const long = `longa ${'😀'.repeat(REALTIME_MESSAGE_MAX_BODY_BYTES / 4 + 1)}`;
    await customerSends(emulatorUrl, CUSTOMER, 'Olga Open', long);
    await thread.getByText(long).waitFor();
    expect(fetched.length).toBeGreaterThan(0);
    for (const request of fetched) expect(request).toMatch(/^GET \/v1\/messages\/[0-9a-f-]{36}$/);
  });
});

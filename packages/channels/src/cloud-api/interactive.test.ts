import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractiveMessage } from '../channel.ts';
import { UnrecoverableChannelError } from '../errors.ts';
import { CloudApiChannel } from './adapter.ts';
import {
  type EmulatorProcess,
  type LooseJson,
  SignedWebhookReceiver,
  startEmulatorProcess,
} from './testing.ts';
import { parseCloudApiWebhook } from './webhook.ts';

const TOKEN = 'interactive-token';
const SECRET = 'interactive-secret';
const PHONE_NUMBER_ID = '107000000000888';
const DISPLAY = '15558880000';
let emulator: EmulatorProcess;
let receiver: SignedWebhookReceiver;
let n = 0;
const peer = () => `55117777${String(++n).padStart(5, '0')}`;

async function connected(): Promise<CloudApiChannel> {
  const channel = new CloudApiChannel({
    sessionId: `interactive-${++n}`,
    phoneNumberId: PHONE_NUMBER_ID,
    accessToken: TOKEN,
    baseUrl: emulator.url,
    epoch: 1n,
    readFence: async () => 1n,
  });
  await channel.connect();
  return channel;
}

async function graphPost(body: unknown): Promise<{ status: number; json: LooseJson }> {
  const response = await fetch(`${emulator.url}/v21.0/${PHONE_NUMBER_ID}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** The content of the inbound messages in the last webhook the receiver accepted. */
function lastInbound() {
  const parsed = parseCloudApiWebhook(receiver.accepted.at(-1), {
    sessionsByPhoneNumberId: { [PHONE_NUMBER_ID]: 'session-1' },
  });
  return parsed.events.flatMap((e) => (e.event === 'message' ? [e.payload] : []));
}

beforeAll(async () => {
  receiver = new SignedWebhookReceiver(SECRET);
  await receiver.start();
  emulator = await startEmulatorProcess({
    token: TOKEN,
    appSecret: SECRET,
    phoneNumberId: PHONE_NUMBER_ID,
    displayPhoneNumber: DISPLAY,
    webhookUrl: receiver.url,
    manualStatuses: true,
  });
});
afterAll(async () => {
  await emulator?.stop();
  await receiver?.stop();
});

const buttons: InteractiveMessage = {
  kind: 'button',
  header: 'Your order',
  body: 'Did the parcel arrive?',
  footer: 'Acme',
  buttons: [
    { id: 'yes', title: 'Yes, thanks' },
    { id: 'no', title: 'Not yet' },
  ],
};
const list: InteractiveMessage = {
  kind: 'list',
  body: 'Pick a slot',
  button: 'Slots',
  sections: [
    { title: 'Morning', rows: [{ id: 'm9', title: '09:00', description: 'Front desk' }] },
    { title: 'Afternoon', rows: [{ id: 'a2', title: '14:00' }] },
  ],
};

describe('interactive sends', () => {
  it('sends reply buttons, a list and a CTA URL in Meta wire format, which the emulator accepts', async () => {
    const channel = await connected();
    const to = peer();
    await channel.send({ to, content: { type: 'interactive', interactive: buttons } });
    await channel.send({ to, content: { type: 'interactive', interactive: list } });
    await channel.send({
      to,
      content: {
        type: 'interactive',
        interactive: {
          kind: 'cta_url',
          body: 'Track it',
          displayText: 'Open tracking',
          url: 'https://example.com/t/1',
        },
      },
    });
    const { messages } = await emulator.control('GET', `/_emulator/sent?to=${to}`);
    expect(messages.map((m: LooseJson) => m.request.interactive)).toEqual([
      {
        type: 'button',
        header: { type: 'text', text: 'Your order' },
        body: { text: 'Did the parcel arrive?' },
        footer: { text: 'Acme' },
        action: {
          buttons: [
            { type: 'reply', reply: { id: 'yes', title: 'Yes, thanks' } },
            { type: 'reply', reply: { id: 'no', title: 'Not yet' } },
          ],
        },
      },
      {
        type: 'list',
        body: { text: 'Pick a slot' },
        action: {
          button: 'Slots',
          sections: [
            { title: 'Morning', rows: [{ id: 'm9', title: '09:00', description: 'Front desk' }] },
            { title: 'Afternoon', rows: [{ id: 'a2', title: '14:00' }] },
          ],
        },
      },
      {
        type: 'cta_url',
        body: { text: 'Track it' },
        action: {
          name: 'cta_url',
          parameters: { display_text: 'Open tracking', url: 'https://example.com/t/1' },
        },
      },
    ]);
  });

  it("refuses what breaks Meta's limits before any request, as unrecoverable INVALID_CONTENT", async () => {
    const channel = await connected();
    const to = peer();
    const four = { ...buttons, buttons: ['a', 'b', 'c', 'd'].map((id) => ({ id, title: id })) };
    const long = { ...buttons, buttons: [{ id: 'x', title: 'A title far over twenty' }] };
    const rows = {
      ...list,
      sections: [
        { title: 'All', rows: Array.from({ length: 11 }, (_, i) => ({ id: `r${i}`, title: `Row ${i}` })) },
      ],
    };
    for (const interactive of [four, long, rows] as InteractiveMessage[]) {
      const error = await channel
        .send({ to, content: { type: 'interactive', interactive } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnrecoverableChannelError);
      expect((error as UnrecoverableChannelError).code).toBe('INVALID_CONTENT');
    }
    const { messages } = await emulator.control('GET', `/_emulator/sent?to=${to}`);
    expect(messages).toEqual([]);
    await expect(
      channel.send({ to, content: { type: 'poll', name: 'Q', options: ['a', 'b'], selectableCount: 1 } }),
    ).rejects.toMatchObject({
      code: 'INVALID_CONTENT',
    });
  });

  it('the emulator refuses an over-long button title like Graph, naming the field', async () => {
    const { status, json } = await graphPost({
      messaging_product: 'whatsapp',
      to: peer(),
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: 'Hi' },
        action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A title far over twenty' } }] },
      },
    });
    expect(status).toBe(400);
    expect(json.error.code).toBe(100);
    expect(json.error.error_data.details).toContain('interactive.action.buttons.0.reply.title');
  });
});

describe('structured replies', () => {
  it("maps the customer's button and list picks, and a template quick reply, to interactive_reply", async () => {
    const channel = await connected();
    const to = peer();
    const sentButtons = await channel.send({ to, content: { type: 'interactive', interactive: buttons } });
    const sentList = await channel.send({ to, content: { type: 'interactive', interactive: list } });

    await emulator.control(
      'POST',
      `/_emulator/messages/${encodeURIComponent(sentButtons.providerMessageId)}/interactive-reply`,
      {
        id: 'no',
      },
    );
    const [button] = lastInbound();
    expect(button?.content).toEqual({
      type: 'interactive_reply',
      kind: 'button',
      id: 'no',
      title: 'Not yet',
    });
    expect(button?.replyTo?.providerMessageId).toBe(sentButtons.providerMessageId);

    await emulator.control(
      'POST',
      `/_emulator/messages/${encodeURIComponent(sentList.providerMessageId)}/interactive-reply`,
      {
        id: 'm9',
      },
    );
    expect(lastInbound()[0]?.content).toEqual({
      type: 'interactive_reply',
      kind: 'list',
      id: 'm9',
      title: '09:00',
      description: 'Front desk',
    });

    // A pick the message does not offer is refused by the emulator, as WhatsApp's client cannot send it.
    await expect(
      emulator.control(
        'POST',
        `/_emulator/messages/${encodeURIComponent(sentList.providerMessageId)}/interactive-reply`,
        {
          id: 'zz',
        },
      ),
    ).rejects.toThrow();

    await emulator.control('POST', '/_emulator/customer/messages', {
      from: to,
      type: 'text',
      text: 'unused',
      raw: { type: 'button', button: { text: 'Stop promotions', payload: 'STOP' } },
    });
    expect(lastInbound()[0]?.content).toEqual({
      type: 'interactive_reply',
      kind: 'button',
      id: 'STOP',
      title: 'Stop promotions',
    });
  });
});

describe('read receipts', () => {
  it('marks exactly the given customer messages read, one Graph call each', async () => {
    const channel = await connected();
    const from = peer();
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three']) {
      const { id } = await emulator.control('POST', '/_emulator/customer/messages', { from, text });
      ids.push(id);
    }
    await channel.markRead(from, [ids[1]!, ids[2]!]);
    const { reads } = await emulator.control('GET', '/_emulator/reads');
    expect(reads.map((r: LooseJson) => r.messageId).filter((id: string) => ids.includes(id))).toEqual([
      ids[1],
      ids[2],
    ]);
  });

  it('a message id the number never received is refused by Graph (100), as a channel error', async () => {
    const channel = await connected();
    await expect(channel.markRead(peer(), ['wamid.unknown'])).rejects.toMatchObject({ providerCode: 100 });
  });
});

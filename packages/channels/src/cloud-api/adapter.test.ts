import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundMessage, OutboundContent } from '../channel.ts';
import { ChannelError, UnrecoverableChannelError } from '../errors.ts';
import { ChannelEventLog } from '../testing.ts';
import { CloudApiChannel, type CloudApiChannelOptions } from './adapter.ts';
import {
  type EmulatorProcess,
  type LooseJson,
  SignedWebhookReceiver,
  startEmulatorProcess,
} from './testing.ts';
import { parseCloudApiWebhook } from './webhook.ts';

const TOKEN = 'adapter-token';
const SECRET = 'adapter-secret';
const PHONE_NUMBER_ID = '107000000000777';
const DISPLAY = '15557770000';
let emulator: EmulatorProcess;
let receiver: SignedWebhookReceiver;
const fence = 1n;
let n = 0;

function channel(overrides: Partial<CloudApiChannelOptions> = {}) {
  return new CloudApiChannel({
    sessionId: `adapter-${++n}`,
    phoneNumberId: PHONE_NUMBER_ID,
    accessToken: TOKEN,
    baseUrl: emulator.url,
    epoch: 1n,
    readFence: async () => fence,
    ...overrides,
  });
}
async function connected(overrides: Partial<CloudApiChannelOptions> = {}) {
  const c = channel(overrides);
  const log = new ChannelEventLog(c);
  await c.connect();
  expect(c.state).toBe('connected');
  return { channel: c, log };
}
const peer = () => `55118888${String(++n).padStart(5, '0')}`;

beforeAll(async () => {
  receiver = new SignedWebhookReceiver(SECRET);
  await receiver.start();
  emulator = await startEmulatorProcess({
    token: TOKEN,
    appSecret: SECRET,
    phoneNumberId: PHONE_NUMBER_ID,
    displayPhoneNumber: DISPLAY,
    webhookUrl: receiver.url,
  });
});
afterAll(async () => {
  await emulator?.stop();
  await receiver?.stop();
});

describe('connect', () => {
  it('checks the token on the phone number and reports the number', async () => {
    const { channel: c, log } = await connected();
    expect(log.of('state').map((s) => [s.previous, s.state, s.cause])).toEqual([
      ['disconnected', 'connecting', 'connect'],
      ['connecting', 'connected', 'connect'],
    ]);
    expect(log.of('state')[1]?.phoneNumber).toBe(DISPLAY);
    expect(c.capabilities).toEqual({ pairing: false, persistentConnection: false });
  });

  it('goes logged_out on a refused token, disconnected with the code on an unknown phone number id', async () => {
    const bad = channel({ accessToken: 'expired' });
    const badLog = new ChannelEventLog(bad);
    await bad.connect();
    expect(bad.state).toBe('logged_out');
    expect(badLog.of('state').at(-1)).toMatchObject({ cause: 'logged-out', code: 190 });

    const unknown = channel({ phoneNumberId: '42' });
    const unknownLog = new ChannelEventLog(unknown);
    await unknown.connect();
    expect(unknown.state).toBe('disconnected');
    expect(unknownLog.of('state').at(-1)).toMatchObject({
      cause: 'unknown',
      code: 100,
      willReconnect: false,
    });
  });

  it('goes disconnected with socket-error when Graph cannot be reached', async () => {
    const closed = await closedPort();
    const c = channel({ baseUrl: `http://127.0.0.1:${closed}` });
    const log = new ChannelEventLog(c);
    await c.connect();
    expect(log.of('state').at(-1)).toMatchObject({ state: 'disconnected', cause: 'socket-error' });
  });

  it('does not connect once fenced out', async () => {
    const c = channel({ epoch: 0n });
    const log = new ChannelEventLog(c);
    await c.connect();
    expect(log.of('state').at(-1)).toMatchObject({ state: 'disconnected', cause: 'stale-epoch' });
  });
});

describe('send round trip', () => {
  it('sends every content kind in Graph form, seen at the emulator', async () => {
    const { channel: c } = await connected();
    const to = peer();
    const results = [];
    for (const content of [
      { type: 'text', text: 'see https://example.test' },
      { type: 'reaction', targetId: 'wamid.IN1', emoji: '👍' },
      { type: 'location', latitude: -23.5, longitude: -46.6, name: 'Loja' },
      {
        type: 'contact',
        vcard:
          'BEGIN:VCARD\nVERSION:3.0\nFN:Ana Souza\nTEL;type=CELL;waid=5511911110000:+55 11 91111-0000\nEND:VCARD',
      },
      {
        type: 'template',
        name: 'order_update',
        language: 'pt_BR',
        components: [
          { type: 'header', parameters: [{ type: 'image', url: 'https://example.test/h.jpg' }] },
          { type: 'body', parameters: [{ type: 'text', text: '42' }] },
        ],
      },
      {
        type: 'media',
        kind: 'document',
        url: 'https://example.test/nota.pdf',
        fileName: 'nota.pdf',
        caption: 'NF',
      },
    ] satisfies OutboundContent[]) {
      results.push(await c.send({ to: `+${to}`, content }));
    }
    const { messages } = await emulator.control('GET', `/_emulator/sent?to=${to}`);
    expect(messages.map((m: LooseJson) => m.id)).toEqual(results.map((r) => r.providerMessageId));
    expect(results[0]?.to).toBe(to);
    expect(messages.map((m: LooseJson) => m.request)).toEqual([
      expect.objectContaining({
        type: 'text',
        text: { body: 'see https://example.test', preview_url: true },
      }),
      expect.objectContaining({ type: 'reaction', reaction: { message_id: 'wamid.IN1', emoji: '👍' } }),
      expect.objectContaining({
        type: 'location',
        location: { latitude: -23.5, longitude: -46.6, name: 'Loja' },
      }),
      expect.objectContaining({
        type: 'contacts',
        contacts: [
          {
            name: { formatted_name: 'Ana Souza' },
            phones: [{ phone: '+55 11 91111-0000', wa_id: '5511911110000' }],
          },
        ],
      }),
      expect.objectContaining({
        type: 'template',
        template: {
          name: 'order_update',
          language: { code: 'pt_BR' },
          components: [
            {
              type: 'header',
              parameters: [{ type: 'image', image: { link: 'https://example.test/h.jpg' } }],
            },
            { type: 'body', parameters: [{ type: 'text', text: '42' }] },
          ],
        },
      }),
      expect.objectContaining({
        type: 'document',
        document: { link: 'https://example.test/nota.pdf', caption: 'NF', filename: 'nota.pdf' },
      }),
    ]);
  });

  it('rejects content it cannot express as INVALID_CONTENT before sending', async () => {
    const { channel: c } = await connected();
    const to = peer();
    await expect(c.send({ to, content: { type: 'media', kind: 'image' } })).rejects.toMatchObject({
      code: 'INVALID_CONTENT',
      unrecoverable: true,
    });
    await expect(c.send({ to, content: { type: 'text', text: '' } })).rejects.toBeInstanceOf(
      UnrecoverableChannelError,
    );
    expect((await emulator.control('GET', `/_emulator/sent?to=${to}`)).messages).toHaveLength(0);
  });

  it('gets statuses sent -> delivered -> read back as receipts through the signed webhook', async () => {
    const { channel: c } = await connected();
    const to = peer();
    const { providerMessageId } = await c.send({ to, content: { type: 'text', text: 'status me' } });
    // Statuses are automatic in this emulator: wait until all three were delivered.
    const deadline = Date.now() + 5_000;
    let statuses: string[] = [];
    while (Date.now() < deadline) {
      statuses = (await emulator.control('GET', `/_emulator/sent?to=${to}`)).messages[0].statuses;
      const delivered = (await emulator.control('GET', '/_emulator/deliveries')).deliveries.filter(
        (d: LooseJson) => d.delivered,
      ).length;
      if (statuses.length === 3 && delivered >= receiver.accepted.length && receiver.accepted.length > 0)
        break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(statuses).toEqual(['sent', 'delivered', 'read']);
    const receipts = receiver.accepted
      .flatMap(
        (p) =>
          parseCloudApiWebhook(p, { sessionsByPhoneNumberId: { [PHONE_NUMBER_ID]: c.sessionId } }).events,
      )
      .filter((e) => e.event === 'receipt' && e.payload.providerMessageId === providerMessageId)
      .map((e) => (e.event === 'receipt' ? e.payload.status : ''));
    expect(receipts).toEqual(['sent', 'delivered', 'read']);
    expect(receiver.rejected).toBe(0);
  });

  it('sends our message id as biz_opaque_callback_data and gets it back on every receipt', async () => {
    const { channel: c } = await connected();
    const to = peer();
    const ours = 'b7f2a7c4-3f1e-4a57-9c2e-0d6f1b7a9e11';
    const { providerMessageId } = await c.send({
      to,
      content: { type: 'text', text: 'adopt me' },
      callbackData: ours,
    });
    const sent = (await emulator.control('GET', `/_emulator/sent?to=${to}`)).messages[0];
    expect(sent.request.biz_opaque_callback_data).toBe(ours);
    const receiptsOf = () =>
      receiver.accepted
        .flatMap(
          (p) =>
            parseCloudApiWebhook(p, { sessionsByPhoneNumberId: { [PHONE_NUMBER_ID]: c.sessionId } }).events,
        )
        .flatMap((e) =>
          e.event === 'receipt' && e.payload.providerMessageId === providerMessageId ? [e.payload] : [],
        );
    const deadline = Date.now() + 5_000;
    while (receiptsOf().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(receiptsOf().map((r) => [r.status, r.callbackData])).toEqual([
      ['sent', ours],
      ['delivered', ours],
      ['read', ours],
    ]);
    // Too long for Meta: refused before anything is sent.
    await expect(
      c.send({ to, content: { type: 'text', text: 'x' }, callbackData: 'x'.repeat(513) }),
    ).rejects.toMatchObject({ code: 'INVALID_CONTENT', unrecoverable: true });
    expect((await emulator.control('GET', `/_emulator/sent?to=${to}`)).messages).toHaveLength(1);
  });

  it('turns a customer message from the emulator into an InboundMessage, and its media id into bytes', async () => {
    const { channel: c, log } = await connected();
    const from = peer();
    const before = receiver.accepted.length;
    await emulator.control('POST', '/_emulator/customer/messages', {
      from,
      name: 'Bruno',
      text: 'quero pedir',
    });
    await emulator.control('POST', '/_emulator/customer/messages', {
      from,
      type: 'image',
      media: {
        mimeType: 'image/png',
        dataBase64: Buffer.from('png-bytes').toString('base64'),
        caption: 'foto',
      },
    });
    for (const payload of receiver.accepted.slice(before)) c.handleWebhook(payload);
    const [text, image] = log.of('message') as [InboundMessage, InboundMessage];
    expect(text).toMatchObject({
      sessionId: c.sessionId,
      fromMe: false,
      sender: { address: from, pn: from, pushName: 'Bruno' },
      chat: { address: from, kind: 'direct' },
      content: { type: 'text', text: 'quero pedir' },
    });
    expect(image.content).toMatchObject({
      type: 'image',
      caption: 'foto',
      media: { mimetype: 'image/png', download: { provider: 'cloud-api' } },
    });
    if (image.content.type !== 'image') throw new Error('not an image');
    // What the worker's download does with the MediaRef: id -> URL -> bytes, both with the token.
    const auth = { authorization: `Bearer ${TOKEN}` };
    const meta = (await (
      await fetch(`${emulator.url}/v23.0/${image.content.media.download.data}`, { headers: auth })
    ).json()) as { url: string; sha256: string };
    const bytes = Buffer.from(await (await fetch(meta.url, { headers: auth })).arrayBuffer());
    expect(bytes.toString()).toBe('png-bytes');
    expect(image.content.media.sha256).toBe(meta.sha256);
  });
});

describe('Graph error mapping', () => {
  const cases: [code: number, expected: { code: string; unrecoverable: boolean; retryAfterMs?: number }][] = [
    [130429, { code: 'SEND_FAILED', unrecoverable: false, retryAfterMs: 1_000 }],
    [80007, { code: 'SEND_FAILED', unrecoverable: false, retryAfterMs: 60_000 }],
    [131056, { code: 'SEND_FAILED', unrecoverable: false, retryAfterMs: 6_000 }],
    [131000, { code: 'SEND_FAILED', unrecoverable: false }],
    [131047, { code: 'INVALID_CONTENT', unrecoverable: true }],
    [131026, { code: 'INVALID_NUMBER', unrecoverable: true }],
    [131030, { code: 'INVALID_NUMBER', unrecoverable: true }],
    [100, { code: 'INVALID_CONTENT', unrecoverable: true }],
    [131053, { code: 'INVALID_CONTENT', unrecoverable: true }],
    [132001, { code: 'INVALID_CONTENT', unrecoverable: true }],
    [133010, { code: 'SEND_FAILED', unrecoverable: true }],
  ];
  for (const [graphCode, expected] of cases) {
    it(`maps Graph ${graphCode} to ${expected.code}${expected.unrecoverable ? ' (unrecoverable)' : ' (retryable)'}`, async () => {
      const { channel: c } = await connected();
      await emulator.control('POST', '/_emulator/failures', { code: graphCode, count: 1 });
      const error = await c
        .send({ to: peer(), content: { type: 'text', text: 'x' } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(expected.unrecoverable ? UnrecoverableChannelError : ChannelError);
      expect(error).toMatchObject({ ...expected, providerCode: graphCode });
      expect((error as Error).message).toContain(String(graphCode));
      expect(c.state).toBe('connected');
    });
  }

  it('maps an unknown 5xx to retryable and an unknown 4xx to unrecoverable', async () => {
    const { channel: c } = await connected();
    await emulator.control('POST', '/_emulator/failures', { code: 999001, httpStatus: 502 });
    await expect(c.send({ to: peer(), content: { type: 'text', text: 'x' } })).rejects.toMatchObject({
      code: 'SEND_FAILED',
      unrecoverable: false,
    });
    await emulator.control('POST', '/_emulator/failures', { code: 999002, httpStatus: 400 });
    await expect(c.send({ to: peer(), content: { type: 'text', text: 'x' } })).rejects.toMatchObject({
      code: 'SEND_FAILED',
      unrecoverable: true,
    });
  });

  it('maps 190 (expired token) to LOGGED_OUT and the session goes logged_out', async () => {
    const { channel: c, log } = await connected();
    await emulator.control('POST', '/_emulator/failures', {
      code: 190,
      subcode: 463,
      message: 'Error validating access token: Session has expired',
    });
    await expect(c.send({ to: peer(), content: { type: 'text', text: 'x' } })).rejects.toMatchObject({
      code: 'LOGGED_OUT',
      unrecoverable: true,
      status: 401,
    });
    expect(c.state).toBe('logged_out');
    expect(log.of('state').at(-1)).toMatchObject({ state: 'logged_out', cause: 'logged-out', code: 190 });
  });

  it('maps a network failure during a send to a retryable SEND_FAILED', async () => {
    // A Graph that answers the connect check and then goes away.
    const graph = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ id: PHONE_NUMBER_ID, display_phone_number: DISPLAY }));
    });
    await new Promise<void>((resolve) => graph.listen(0, '127.0.0.1', resolve));
    const port = (graph.address() as { port: number }).port;
    const { channel: c } = await connected({ baseUrl: `http://127.0.0.1:${port}` });
    await new Promise<void>((resolve) => graph.close(() => resolve()));
    const error = await c.send({ to: peer(), content: { type: 'text', text: 'x' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelError);
    expect(error).toMatchObject({ code: 'SEND_FAILED', unrecoverable: false });
    expect(c.state).toBe('connected');
  });

  it('refuses with a retryable FENCE_UNAVAILABLE when the fence cannot be read, and STALE_EPOCH once it moved', async () => {
    const fenceState = { fail: false, value: 1n };
    const { channel: c, log } = await connected({
      readFence: async () => {
        if (fenceState.fail) throw new Error('redis down');
        return fenceState.value;
      },
    });
    fenceState.fail = true;
    await expect(c.send({ to: peer(), content: { type: 'text', text: 'x' } })).rejects.toMatchObject({
      code: 'FENCE_UNAVAILABLE',
      unrecoverable: false,
    });
    fenceState.fail = false;
    fenceState.value = 2n;
    await expect(c.send({ to: peer(), content: { type: 'text', text: 'x' } })).rejects.toMatchObject({
      code: 'STALE_EPOCH',
    });
    expect(log.of('state').at(-1)).toMatchObject({ state: 'disconnected', cause: 'stale-epoch' });
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

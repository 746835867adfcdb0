import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CloudApiEmulator, createCloudApiEmulator } from './index.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers loosely.
type Loose = any;

const TOKEN = 'test-token-emulator';
const SECRET = 'app-secret-emulator';
const PHONE_ID = '109876543210001';
const DISPLAY = '15550001111';

interface Received {
  raw: Buffer;
  headers: IncomingHttpHeaders;
  json: { entry: { changes: { value: Record<string, unknown> }[] }[] } & Record<string, unknown>;
}

/** A receiver like the tenant API's: records raw bytes; answers with the status `failNext` says. */
class TestReceiver {
  readonly received: Received[] = [];
  readonly waiters = new Set<() => void>();
  failNext = 0;
  verifyToken = 'verify-me';
  server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET') {
      const ok =
        url.searchParams.get('hub.mode') === 'subscribe' &&
        url.searchParams.get('hub.verify_token') === this.verifyToken;
      res.writeHead(ok ? 200 : 403, { 'content-type': 'text/plain' });
      res.end(ok ? (url.searchParams.get('hub.challenge') ?? '') : 'forbidden');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.failNext > 0) {
        this.failNext--;
        res.writeHead(500).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      this.received.push({ raw, headers: req.headers, json: JSON.parse(raw.toString('utf8')) });
      for (const w of [...this.waiters]) w();
      res.writeHead(200).end('EVENT_RECEIVED');
    });
  });
  url = '';
  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks/meta`;
  }
  async waitFor(count: number): Promise<Received[]> {
    const deadline = Date.now() + 3_000;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} webhooks, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
        setTimeout(wake, 50);
      });
    }
    return this.received;
  }
}

let receiver: TestReceiver;
let emulator: CloudApiEmulator;

async function graph(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const response = await fetch(`${emulator.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, Loose>) : undefined };
}
const send = (body: unknown, token?: string | null) =>
  graph('POST', `/v23.0/${PHONE_ID}/messages`, body, token);
const control = (method: string, path: string, body?: unknown) => graph(method, path, body, null);

function expectGraphError(json: Loose, code: number) {
  expect(json).toMatchObject({
    error: {
      message: expect.any(String),
      type: 'OAuthException',
      code,
      error_data: { messaging_product: 'whatsapp', details: expect.any(String) },
      fbtrace_id: expect.any(String),
    },
  });
}

beforeAll(async () => {
  receiver = new TestReceiver();
  await receiver.start();
  emulator = await createCloudApiEmulator({
    accessToken: TOKEN,
    appSecret: SECRET,
    webhookUrl: receiver.url,
    verifyToken: 'verify-me',
    phoneNumbers: [{ id: PHONE_ID, displayPhoneNumber: DISPLAY, verifiedName: 'Acme' }],
    statuses: { mode: 'manual' },
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
    unreachableNumbers: ['5511900000404'],
  });
});
afterAll(async () => {
  await emulator?.close();
  receiver?.server.close();
});
afterEach(() => {
  receiver.received.length = 0;
  receiver.failNext = 0;
});

describe('POST /{version}/{phone-number-id}/messages', () => {
  it('accepts a text and answers with contacts and a wamid', async () => {
    const { status, json } = await send({
      messaging_product: 'whatsapp',
      to: '+5511987650001',
      type: 'text',
      text: { body: 'Olá' },
    });
    expect(status).toBe(200);
    expect(json).toEqual({
      messaging_product: 'whatsapp',
      contacts: [{ input: '+5511987650001', wa_id: '5511987650001' }],
      messages: [{ id: expect.stringMatching(/^wamid\./) }],
    });
    const listed = await control('GET', '/_emulator/sent?to=5511987650001');
    expect(listed.json?.messages).toHaveLength(1);
    expect(listed.json?.messages[0]).toMatchObject({
      id: json?.messages[0].id,
      type: 'text',
      request: { text: { body: 'Olá' } },
    });
  });

  it('accepts media by link and by id, templates, reactions and replies', async () => {
    const to = '5511987650002';
    const bodies = [
      { type: 'image', image: { link: 'https://example.test/a.jpg', caption: 'c' } },
      { type: 'document', document: { link: 'https://example.test/a.pdf', filename: 'a.pdf' } },
      { type: 'audio', audio: { link: 'https://example.test/a.ogg' } },
      { type: 'video', video: { link: 'https://example.test/a.mp4' } },
      {
        type: 'template',
        template: {
          name: 'order_update',
          language: { code: 'pt_BR' },
          components: [{ type: 'body', parameters: [{ type: 'text', text: '42' }] }],
        },
      },
      { type: 'reaction', reaction: { message_id: 'wamid.X', emoji: '👍' } },
      { type: 'text', text: { body: 'reply' }, context: { message_id: 'wamid.Y' } },
    ];
    for (const body of bodies) {
      const { status, json } = await send({ messaging_product: 'whatsapp', to, ...body });
      expect(status, JSON.stringify(json)).toBe(200);
    }
    const listed = await control('GET', `/_emulator/sent?to=${to}`);
    expect(listed.json?.messages.map((m: { type: string }) => m.type)).toEqual([
      'image',
      'document',
      'audio',
      'video',
      'template',
      'reaction',
      'text',
    ]);
    expect(listed.json?.messages[6].request.context).toEqual({ message_id: 'wamid.Y' });
  });

  it('sends customer media by id once it exists, and refuses an unknown media id', async () => {
    const unknown = await send({
      messaging_product: 'whatsapp',
      to: '5511987650003',
      type: 'image',
      image: { id: '999' },
    });
    expect(unknown.status).toBe(400);
    expectGraphError(unknown.json, 131053);
  });

  it('answers bad input with Graph error 100 naming the parameter', async () => {
    const cases: [unknown, string][] = [
      [{ to: '5511987650004', type: 'text', text: { body: 'x' } }, 'messaging_product'],
      [{ messaging_product: 'whatsapp', to: 'abc', type: 'text', text: { body: 'x' } }, 'to'],
      [{ messaging_product: 'whatsapp', to: '5511987650004', type: 'image' }, 'image'],
      [
        {
          messaging_product: 'whatsapp',
          to: '5511987650004',
          type: 'image',
          image: { id: '1', link: 'https://e.test/x' },
        },
        'image',
      ],
      [{ messaging_product: 'whatsapp', to: '5511987650004', type: 'hologram' }, 'type'],
    ];
    for (const [body, param] of cases) {
      const { status, json } = await send(body);
      expect(status).toBe(400);
      expectGraphError(json, 100);
      expect(json?.error.error_data.details).toContain(param);
    }
  });

  it('answers a wrong token with 190 and 401, a missing one with 400, an unknown phone number id with 100/33', async () => {
    const body = { messaging_product: 'whatsapp', to: '5511987650005', text: { body: 'x' } };
    const wrong = await send(body, 'nope');
    expect(wrong.status).toBe(401);
    expectGraphError(wrong.json, 190);
    const missing = await send(body, null);
    expect(missing.status).toBe(400);
    expect(missing.json?.error.code).toBe(2500);
    const unknown = await graph('POST', '/v23.0/123/messages', body);
    expectGraphError(unknown.json, 100);
    expect(unknown.json?.error.error_subcode).toBe(33);
    expect((await control('GET', '/_emulator/sent?to=5511987650005')).json?.messages).toHaveLength(0);
  });

  it('fails the next N sends with the requested code, then accepts again', async () => {
    expect((await control('POST', '/_emulator/failures', { count: 2, code: 131056 })).status).toBe(200);
    const body = { messaging_product: 'whatsapp', to: '5511987650006', type: 'text', text: { body: 'x' } };
    for (let i = 0; i < 2; i++) {
      const { status, json } = await send(body);
      expect(status).toBe(400);
      expectGraphError(json, 131056);
    }
    await control('POST', '/_emulator/failures', { code: 131000, httpStatus: 503 });
    expect((await send(body)).status).toBe(503);
    expect((await send(body)).status).toBe(200);
  });
});

describe('POST /{version}/{phone-number-id}/media', () => {
  async function upload(form: FormData, token: string | null = TOKEN, phoneId = PHONE_ID) {
    const response = await fetch(`${emulator.url}/v23.0/${phoneId}/media`, {
      method: 'POST',
      headers: token ? { authorization: `Bearer ${token}` } : {},
      body: form,
    });
    return { status: response.status, json: (await response.json()) as Loose };
  }
  function form(fields: { product?: string; type?: string; file?: Blob; name?: string }) {
    const f = new FormData();
    if (fields.product !== undefined) f.set('messaging_product', fields.product);
    if (fields.type !== undefined) f.set('type', fields.type);
    if (fields.file) f.set('file', fields.file, fields.name ?? 'file');
    return f;
  }

  it('takes a multipart upload, answers {id}, and the id is sendable and retrievable like customer media', async () => {
    const bytes = Buffer.from('%PDF-1.7 uploaded');
    const { status, json } = await upload(
      form({ product: 'whatsapp', type: 'application/pdf', file: new Blob([bytes]), name: 'a.pdf' }),
    );
    expect(status).toBe(200);
    expect(json).toEqual({ id: expect.stringMatching(/^\d+$/) });
    const sent = await send({
      messaging_product: 'whatsapp',
      to: '5511988887777',
      type: 'document',
      document: { id: json.id },
    });
    expect(sent.status).toBe(200);
    const meta = await graph('GET', `/v23.0/${json.id}`);
    expect(meta.json).toMatchObject({ mime_type: 'application/pdf', file_size: bytes.length, id: json.id });
    const file = await fetch(meta.json!.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(Buffer.from(await file.arrayBuffer()).equals(bytes)).toBe(true);
    const recorded = await control('GET', `/_emulator/media/${json.id}`);
    expect(recorded.json).toMatchObject({
      mimeType: 'application/pdf',
      fileName: 'a.pdf',
      uploadedBy: PHONE_ID,
    });
    expect((await control('GET', '/_emulator/media/1')).status).toBe(404);
  });

  it("answers Graph's errors: token, unknown phone number, missing fields, not multipart", async () => {
    const good = () => form({ product: 'whatsapp', type: 'image/png', file: new Blob([Buffer.from('png')]) });
    expectGraphError((await upload(good(), 'bad')).json, 190);
    expect((await upload(good(), 'bad')).status).toBe(401);
    expectGraphError((await upload(good(), TOKEN, '424242')).json, 100);
    const noProduct = await upload(form({ type: 'image/png', file: new Blob([Buffer.from('png')]) }));
    expect(noProduct.json.error.error_data.details).toMatch(/messaging_product/);
    const noFile = await upload(form({ product: 'whatsapp', type: 'image/png' }));
    expect(noFile.json.error.error_data.details).toMatch(/file: is required/);
    const json = await graph('POST', `/v23.0/${PHONE_ID}/media`, { messaging_product: 'whatsapp' });
    expect(json.status).toBe(400);
  });
});

describe('GET /{version}/{id}', () => {
  it('describes the phone number', async () => {
    const { status, json } = await graph('GET', `/v23.0/${PHONE_ID}`);
    expect(status).toBe(200);
    expect(json).toMatchObject({ id: PHONE_ID, display_phone_number: DISPLAY, verified_name: 'Acme' });
    expect((await graph('GET', `/v23.0/${PHONE_ID}`, undefined, 'bad')).status).toBe(401);
    expectGraphError((await graph('GET', '/v23.0/424242')).json, 100);
  });
});

describe('webhooks', () => {
  it("delivers a customer text in Meta's envelope, signed over the raw bytes", async () => {
    const r = await control('POST', '/_emulator/customer/messages', {
      from: '5511911112222',
      name: 'Ana',
      text: 'Oi',
      replyTo: 'wamid.PREV',
    });
    expect(r.status).toBe(200);
    const [got] = await receiver.waitFor(1);
    const expected = `sha256=${createHmac('sha256', SECRET).update(got!.raw).digest('hex')}`;
    const header = String(got!.headers['x-hub-signature-256']);
    expect(timingSafeEqual(Buffer.from(header), Buffer.from(expected))).toBe(true);
    // Re-serialising would not necessarily match: the signature is over what was sent.
    expect(header).not.toBe(`sha256=${createHmac('sha256', 'other').update(got!.raw).digest('hex')}`);
    expect(got!.json).toMatchObject({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: expect.any(String),
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: DISPLAY, phone_number_id: PHONE_ID },
                contacts: [{ profile: { name: 'Ana' }, wa_id: '5511911112222' }],
                messages: [
                  {
                    from: '5511911112222',
                    id: r.json?.id,
                    timestamp: expect.stringMatching(/^\d+$/),
                    type: 'text',
                    text: { body: 'Oi' },
                    context: { id: 'wamid.PREV' },
                  },
                ],
              },
            },
          ],
        },
      ],
    });
  });

  it('delivers customer media whose id resolves to a URL serving the bytes (with the token)', async () => {
    const bytes = Buffer.from('fake-jpeg-bytes');
    await control('POST', '/_emulator/customer/messages', {
      from: '5511911113333',
      type: 'image',
      media: { mimeType: 'image/jpeg', dataBase64: bytes.toString('base64'), caption: 'foto' },
    });
    const [got] = await receiver.waitFor(1);
    const image = (got!.json.entry[0]!.changes[0]!.value.messages as Loose[])[0].image;
    expect(image).toMatchObject({ mime_type: 'image/jpeg', caption: 'foto', id: expect.any(String) });
    const meta = await graph('GET', `/v23.0/${image.id}`);
    expect(meta.json).toMatchObject({
      messaging_product: 'whatsapp',
      mime_type: 'image/jpeg',
      file_size: bytes.length,
      id: image.id,
    });
    const download = await fetch(meta.json?.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(Buffer.from(await download.arrayBuffer())).toEqual(bytes);
    expect((await fetch(meta.json?.url)).status).toBe(400);
    // The business can send that media back by id.
    expect(
      (
        await send({
          messaging_product: 'whatsapp',
          to: '5511911113333',
          type: 'image',
          image: { id: image.id },
        })
      ).status,
    ).toBe(200);
  });

  it('delivers statuses for a business send on request, in order, and lists them', async () => {
    const { json } = await send({ messaging_product: 'whatsapp', to: '5511911114444', text: { body: 'x' } });
    const id = json?.messages[0].id;
    for (const status of ['sent', 'delivered'])
      await control('POST', `/_emulator/messages/${encodeURIComponent(id)}/status`, { status });
    await control('POST', `/_emulator/messages/${encodeURIComponent(id)}/read`, {});
    const got = await receiver.waitFor(3);
    expect(got.map((g) => (g.json.entry[0]!.changes[0]!.value.statuses as Loose[])[0])).toEqual(
      ['sent', 'delivered', 'read'].map((status) => ({
        id,
        status,
        timestamp: expect.any(String),
        recipient_id: '5511911114444',
      })),
    );
    const listed = await control('GET', '/_emulator/sent?to=5511911114444');
    expect(listed.json?.messages[0].statuses).toEqual(['sent', 'delivered', 'read']);
    expect((await control('POST', '/_emulator/messages/wamid.nope/read', {})).status).toBe(404);
  });

  it("echoes a send's biz_opaque_callback_data on each of its statuses, as Meta does", async () => {
    const { json } = await send({
      messaging_product: 'whatsapp',
      to: '5511911115555',
      text: { body: 'x' },
      biz_opaque_callback_data: 'msg_0193a1b2-our-id',
    });
    const id = json?.messages[0].id;
    for (const status of ['sent', 'delivered'])
      await control('POST', `/_emulator/messages/${encodeURIComponent(id)}/status`, { status });
    const got = await receiver.waitFor(2);
    expect(got.map((g) => (g.json.entry[0]!.changes[0]!.value.statuses as Loose[])[0])).toEqual(
      ['sent', 'delivered'].map((status) => ({
        id,
        status,
        timestamp: expect.any(String),
        recipient_id: '5511911115555',
        biz_opaque_callback_data: 'msg_0193a1b2-our-id',
      })),
    );
  });

  it('sends a failed status with error 131026 for a number not on WhatsApp', async () => {
    await send({ messaging_product: 'whatsapp', to: '5511900000404', text: { body: 'x' } });
    const [got] = await receiver.waitFor(1);
    expect((got!.json.entry[0]!.changes[0]!.value.statuses as Loose[])[0]).toMatchObject({
      status: 'failed',
      errors: [{ code: 131026 }],
    });
  });

  it('retries a delivery the receiver refused, with the same bytes and signature', async () => {
    receiver.failNext = 2;
    const r = await control('POST', '/_emulator/customer/messages', {
      from: '5511911115555',
      text: 'retry me',
    });
    expect(r.json?.delivery).toMatchObject({ attempts: [500, 500, 200], delivered: true });
    const [got] = await receiver.waitFor(1);
    expect(String(got!.headers['x-hub-signature-256'])).toBe(
      `sha256=${createHmac('sha256', SECRET).update(got!.raw).digest('hex')}`,
    );
  });

  it('gives up after the bounded number of attempts', async () => {
    receiver.failNext = 10;
    const r = await control('POST', '/_emulator/customer/messages', { from: '5511911116666', text: 'lost' });
    expect(r.json?.delivery).toMatchObject({ attempts: [500, 500, 500], delivered: false });
    const all = await control('GET', '/_emulator/deliveries');
    expect(all.json?.deliveries.at(-1)).toMatchObject({ delivered: false });
  });

  it('refuses bad control input with a message naming the field', async () => {
    const r = await control('POST', '/_emulator/customer/messages', { from: 'x', text: 'y' });
    expect(r.status).toBe(400);
    expect(r.json?.error).toContain('from');
  });
});

describe('verification handshake', () => {
  it('passes when the receiver echoes the challenge, fails on a wrong token', async () => {
    const ok = await emulator.verifyWebhook({ challenge: '1158201444' });
    expect(ok).toEqual({ ok: true, status: 200, body: '1158201444', challenge: '1158201444' });
    const viaControl = await control('POST', '/_emulator/webhook/verify');
    expect(viaControl.json).toMatchObject({ ok: true, status: 200 });
    const bad = await emulator.verifyWebhook({ verifyToken: 'wrong' });
    expect(bad).toMatchObject({ ok: false, status: 403 });
  });
});

describe('publicUrl', () => {
  it('names the public URL in media links when it listens elsewhere (behind a Service)', async () => {
    const hook = new TestReceiver();
    await hook.start();
    const behind = await createCloudApiEmulator({
      accessToken: TOKEN,
      appSecret: SECRET,
      phoneNumbers: [{ id: PHONE_ID, displayPhoneNumber: DISPLAY }],
      webhookUrl: hook.url,
      publicUrl: 'http://cloud-api-emulator.meta.svc/',
    });
    try {
      expect(behind.url).toBe('http://cloud-api-emulator.meta.svc');
      const direct = `http://127.0.0.1:${(behind.server.server.address() as AddressInfo).port}`;
      const sent = await fetch(`${direct}/_emulator/customer/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          from: '5511911117777',
          type: 'image',
          media: { mimeType: 'image/jpeg', dataBase64: Buffer.from('x').toString('base64') },
        }),
      });
      expect(sent.status).toBe(200);
      const [got] = await hook.waitFor(1);
      const id = (got!.json.entry[0]!.changes[0]!.value.messages as Loose[])[0].image.id as string;
      const meta = (await (
        await fetch(`${direct}/v23.0/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      ).json()) as Loose;
      expect(meta.url).toBe(
        `http://cloud-api-emulator.meta.svc/whatsapp_business/attachments/?mid=${encodeURIComponent(id)}`,
      );
    } finally {
      await behind.close();
      await new Promise((resolve) => hook.server.close(resolve));
    }
  });
});

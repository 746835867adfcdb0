import * as Sentry from '@sentry/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHONE_MASK, REDACTED } from './redaction.ts';
import {
  captureError,
  initSentry,
  type SentryHandle,
  scrubSentryBreadcrumb,
  scrubSentryEvent,
} from './sentry.ts';
import { type RecordingServer, startRecordingServer } from './testing/recording-server.ts';

const PHONE = '15551234567';
const TOKEN = 'sb_live_tok_7c1d9e';
const BODY = 'Your verification code is 918273';

describe('scrubSentryEvent', () => {
  it('scrubs headers, cookies, bodies, extra, user and exception text, keeping what helps debugging', () => {
    const event: Sentry.ErrorEvent = {
      type: undefined,
      event_id: 'abc123',
      message: `failed for +${PHONE}`,
      exception: {
        values: [
          {
            type: 'SendError',
            value: `send to ${PHONE}@s.whatsapp.net failed (Bearer ${TOKEN})`,
            stacktrace: {
              frames: [{ filename: 'send.ts', lineno: 10, context_line: `const to = '+${PHONE}';` }],
            },
          },
        ],
      },
      request: {
        method: 'POST',
        url: `https://acme.inbox.example/v1/messages?access_token=${TOKEN}`,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'x-api-key': TOKEN,
          cookie: 'sid=abc',
          'user-agent': 'curl/8',
        },
        cookies: { sid: 'abc' },
        data: { to: `+${PHONE}`, text: BODY },
        query_string: `access_token=${TOKEN}`,
      },
      extra: { phone: `+${PHONE}`, message: { body: BODY, id: 'msg_1' }, wa_id: PHONE, attempt: 2 },
      contexts: { whatsapp: { jid: `${PHONE}@s.whatsapp.net`, session: 'support' } },
      tags: { tenant: 'acme', peer: `+${PHONE}` },
      user: { id: 'agent_1', email: 'agent@acme.example', ip_address: '10.0.0.1' },
      breadcrumbs: [{ category: 'console', message: `got ${PHONE}@lid`, data: { token: TOKEN } }],
    };
    const scrubbed = scrubSentryEvent(event);
    const text = JSON.stringify(scrubbed);
    for (const value of [PHONE, TOKEN, BODY, 'agent@acme.example', 'sid=abc'])
      expect(text).not.toContain(value);
    expect(scrubbed).toMatchObject({
      event_id: 'abc123',
      message: `failed for ${PHONE_MASK}`,
      request: {
        method: 'POST',
        headers: { authorization: REDACTED, 'x-api-key': REDACTED, cookie: REDACTED, 'user-agent': 'curl/8' },
        data: REDACTED,
        url: `https://acme.inbox.example/v1/messages?access_token=${REDACTED}`,
      },
      extra: { phone: REDACTED, message: { body: REDACTED, id: 'msg_1' }, wa_id: REDACTED, attempt: 2 },
      contexts: { whatsapp: { jid: REDACTED, session: 'support' } },
      tags: { tenant: 'acme', peer: PHONE_MASK },
      user: { id: 'agent_1' },
    });
    expect(scrubbed.request).not.toHaveProperty('cookies');
    expect(scrubbed.exception?.values?.[0]?.value).toBe(
      `send to ${PHONE_MASK}@s.whatsapp.net failed (Bearer ${REDACTED})`,
    );
    // The original event is untouched (the SDK may still hold it).
    expect(event.extra?.phone).toBe(`+${PHONE}`);
  });

  it('scrubs breadcrumbs', () => {
    expect(
      scrubSentryBreadcrumb({
        category: 'http',
        message: `POST https://graph.facebook.com/v21.0/123/messages?access_token=${TOKEN}`,
        data: { method: 'POST', status_code: 200, authorization: TOKEN },
      }),
    ).toEqual({
      category: 'http',
      message: `POST https://graph.facebook.com/v21.0/123/messages?access_token=${REDACTED}`,
      data: { method: 'POST', status_code: 200, authorization: REDACTED },
    });
  });
});

describe('initSentry', () => {
  it('does nothing without a DSN', async () => {
    const handle = initSentry({ environment: 'test' });
    expect(handle.enabled).toBe(false);
    expect(Sentry.isInitialized()).toBe(false);
    expect(captureError(new Error('nowhere to go'), { requestId: 'req-1' })).toBeUndefined();
    await expect(handle.close()).resolves.toBe(true);
  });

  describe('with a DSN pointing at a local ingest server', () => {
    let ingest: RecordingServer;
    let sentry: SentryHandle;

    beforeAll(async () => {
      ingest = await startRecordingServer();
      sentry = initSentry({
        dsn: `http://public@127.0.0.1:${ingest.port}/1`,
        environment: 'test',
        release: 'cst@1.0.0',
        serviceName: 'cst-sentry',
      });
    });

    afterAll(async () => {
      await sentry.close();
      await ingest.close();
    });

    it('delivers the error with secrets, phone numbers and bodies removed', async () => {
      expect(sentry.enabled).toBe(true);
      Sentry.addBreadcrumb({
        category: 'queue',
        message: `job for ${PHONE}@s.whatsapp.net`,
        data: { text: BODY },
      });
      Sentry.withScope((scope) => {
        scope.setExtra('contact', { phone: `+${PHONE}`, name: 'Jo' });
        scope.setExtra('payload', { body: BODY });
        scope.setContext('request_headers', { authorization: `Bearer ${TOKEN}` });
        Sentry.captureException(new Error(`send to +${PHONE} failed with token=${TOKEN}`));
      });
      await expect(sentry.flush(5_000)).resolves.toBe(true);

      const envelope = await ingest.waitFor(
        (request) => request.path.startsWith('/api/1/envelope/') && request.body.includes('"type":"event"'),
      );
      expect(envelope.body).toContain('cst@1.0.0');
      expect(envelope.body).toContain('"service":"cst-sentry"');
      expect(envelope.body).toContain(`send to ${PHONE_MASK} failed with token=${REDACTED}`);
      expect(envelope.body).toContain('"name":"Jo"');
      // Nothing the SDK sent (event, session, client reports) carries them.
      const everything = ingest.requests.map((request) => request.body).join('\n');
      for (const value of [PHONE, TOKEN, BODY]) expect(everything).not.toContain(value);
    });

    it('captures an error with its tags (a 5xx: the request id and route; a failed job: the queue)', async () => {
      const id = captureError(new Error(`database refused the send to +${PHONE}`), {
        requestId: 'req-42',
        method: 'POST',
        route: '/v1/messages',
        absent: undefined,
      });
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      await expect(sentry.flush(5_000)).resolves.toBe(true);
      const envelope = await ingest.waitFor(
        (request) => request.path.startsWith('/api/1/envelope/') && request.body.includes(id!),
      );
      // Sentry's envelope: a header line, an item header, the event.
      const [header, item, event] = envelope.body
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(header).toMatchObject({ event_id: id });
      expect(item).toMatchObject({ type: 'event' });
      expect(event).toMatchObject({
        tags: { requestId: 'req-42', method: 'POST', route: '/v1/messages', service: 'cst-sentry' },
      });
      expect(JSON.stringify(event)).toContain(`database refused the send to ${PHONE_MASK}`);
      expect(envelope.body).not.toContain(PHONE);
      expect(envelope.body).not.toContain('"absent"');
    });
  });
});

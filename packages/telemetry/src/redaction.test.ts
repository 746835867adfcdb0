import { describe, expect, it } from 'vitest';
import { isSensitiveKey, maskText, PHONE_MASK, REDACTED, redactValue, serializeError } from './redaction.ts';

describe('maskText', () => {
  it.each([
    ['sending to +15551234567 now', `sending to ${PHONE_MASK} now`],
    ['call +1 555-123-4567', `call ${PHONE_MASK}`],
    ['uk +44 (20) 7946 0958.', `uk ${PHONE_MASK}.`],
    ['jid 15551234567@s.whatsapp.net', `jid ${PHONE_MASK}@s.whatsapp.net`],
    ['device 15551234567:12@s.whatsapp.net', `device ${PHONE_MASK}@s.whatsapp.net`],
    ['lid 123456789012345@lid left', `lid ${PHONE_MASK}@lid left`],
    ['legacy 15551234567@c.us', `legacy ${PHONE_MASK}@c.us`],
    ['group 15551234567-1612345678@g.us', `group ${PHONE_MASK}@g.us`],
    ['Authorization: Bearer abc.def-ghi', `Authorization: ${REDACTED}`],
    ['sent with bearer eyJhbGciOi.payload.sig', `sent with Bearer ${REDACTED}`],
    ['redis://:hunter2@redis:6379/0', `redis://:${REDACTED}@redis:6379/0`],
    ['postgres://app:p%40ss@db/acme', `postgres://app:${REDACTED}@db/acme`],
    ['GET /hook?hub.verify_token=abc123&x=1', `GET /hook?hub.verify_token=${REDACTED}&x=1`],
    [
      'https://graph.facebook.com/v21.0/me?access_token=EAAxyz',
      `https://graph.facebook.com/v21.0/me?access_token=${REDACTED}`,
    ],
    ['token EAAGm0PX4ZCpsBAKZCnqrd7ZCpZB3xYz is bad', `token ${REDACTED} is bad`],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature', `jwt ${REDACTED}`],
    ['body was {"password":"p4ss","ok":true}', `body was {"password":"${REDACTED}","ok":true}`],
    ['x-api-key=sk_live_123', `x-api-key=${REDACTED}`],
    [
      'GET /sso/callback?code=Sx9-Ab_c&state=st4te&iss=https%3A%2F%2Fidp',
      `GET /sso/callback?code=${REDACTED}&state=${REDACTED}&iss=https%3A%2F%2Fidp`,
    ],
    ['the worker exited with code=1', 'the worker exited with code=1'],
  ])('%s', (input, expected) => {
    expect(maskText(input)).toBe(expected);
  });

  it('leaves ordinary text, ids and timestamps alone', () => {
    const ordinary =
      'tenant acme session support epoch 42 at 2025-11-22T08:00:00.000Z took 1234ms, job 3EB0C767D26B8D5A1E3B, status@broadcast';
    expect(maskText(ordinary)).toBe(ordinary);
  });
});

describe('isSensitiveKey', () => {
  it('matches names and their common spellings', () => {
    for (const key of [
      'password',
      'REDIS_PASSWORD',
      'accessToken',
      'x-api-key',
      'apiKey',
      'Authorization',
      'set-cookie',
      'wa_id',
      'waId',
      'msisdn',
      'from',
      'to',
      'body',
      'text',
      'webhookSecret',
      'privateKey',
    ]) {
      expect(isSensitiveKey(key), key).toBe(true);
    }
    for (const key of [
      'tenant',
      'sessionId',
      'status',
      'messageId',
      'idempotencyKey',
      'url',
      'method',
      'tokens_used_count',
    ]) {
      expect(isSensitiveKey(key), key).toBe(false);
    }
  });
});

describe('redactValue', () => {
  it('replaces sensitive keys at any depth and masks strings, without mutating the input', () => {
    const input = {
      tenant: 'acme',
      deep: { level: { headers: { authorization: 'Bearer abc', 'content-type': 'application/json' } } },
      list: [{ phone: '+15551234567' }, 'ping 15551234567@s.whatsapp.net'],
      message: { text: 'hello there', from: '15551234567', id: 'wamid.1' },
      nothing: { password: null },
    };
    const copy = structuredClone(input);
    expect(redactValue(input)).toEqual({
      tenant: 'acme',
      deep: { level: { headers: { authorization: REDACTED, 'content-type': 'application/json' } } },
      list: [{ phone: REDACTED }, `ping ${PHONE_MASK}@s.whatsapp.net`],
      message: { text: REDACTED, from: REDACTED, id: 'wamid.1' },
      nothing: { password: null },
    });
    expect(input).toEqual(copy);
  });

  it('cuts cycles, summarises binary, and serialises dates, maps, sets and bigints', () => {
    const node: Record<string, unknown> = { name: 'a' };
    node.self = node;
    expect(
      redactValue({
        node,
        buffer: Buffer.from('media bytes'),
        at: new Date('2025-01-01T00:00:00Z'),
        map: new Map([['token', 'x']]),
        set: new Set(['+15551234567']),
        big: 10n,
      }),
    ).toEqual({
      node: { name: 'a', self: '[Circular]' },
      buffer: '[binary 11 bytes]',
      at: '2025-01-01T00:00:00.000Z',
      map: { token: REDACTED },
      set: [PHONE_MASK],
      big: '10',
    });
  });

  it('serialises errors with masked message and stack, own fields and cause', () => {
    const cause = new Error('upstream refused +15551234567');
    const error = Object.assign(new TypeError('send to 15551234567@s.whatsapp.net failed', { cause }), {
      code: 'E_SEND',
      config: { headers: { Authorization: 'Bearer live-token-123' } },
    });
    const serialized = serializeError(error);
    expect(serialized).toMatchObject({
      type: 'TypeError',
      message: `send to ${PHONE_MASK}@s.whatsapp.net failed`,
      code: 'E_SEND',
      config: { headers: { Authorization: REDACTED } },
      cause: { type: 'Error', message: `upstream refused ${PHONE_MASK}` },
    });
    expect(serialized.stack).toMatch(/^TypeError: send to \[phone\]@s\.whatsapp\.net failed\n/);
    expect(JSON.stringify(serialized)).not.toMatch(/15551234567|live-token-123/);
  });
});

import { describe, expect, it } from 'vitest';
import { createLogger, withLogContext } from './logger.ts';
import { PHONE_MASK, REDACTED } from './redaction.ts';
import { MemoryDestination } from './testing/memory-destination.ts';

function setup() {
  const destination = new MemoryDestination();
  const logger = createLogger({ level: 'debug', name: 'cst-logger', base: { tenant: 'acme' }, destination });
  return { destination, logger };
}

// Each kind of sensitive value the platform handles, by where it shows up.
const PHONE = '15551234567';
const SECRETS = {
  password: 'pw-Hunter2-zz',
  token: 'tok_9f8e7d6c5b4a',
  apiKey: 'sb_live_key_1234567',
  bearer: 'eyJhbGciOi.bearer-credential',
  cookie: 'sid=cookie-session-value',
  body: 'Hi! Your order ships tomorrow',
  lid: '987654321098765',
};

describe('createLogger', () => {
  it('adds the fields of withLogContext to every line inside it, across awaits, and nothing outside', async () => {
    const { destination, logger } = setup();
    await withLogContext({ request_id: 'abc' }, async () => {
      await Promise.resolve();
      logger.info('inside');
      await withLogContext({ job: 'send-1' }, async () => logger.child({ session: 's' }).info('nested'));
    });
    logger.info('outside');
    const [inside, nested, outside] = destination.records();
    expect(inside).toMatchObject({ msg: 'inside', request_id: 'abc' });
    expect(nested).toMatchObject({ msg: 'nested', request_id: 'abc', job: 'send-1', session: 's' });
    expect(outside).not.toHaveProperty('request_id');
  });

  it('writes JSON lines with level label, name, base fields and ordinary fields intact', () => {
    const { destination, logger } = setup();
    logger.info({ session: 'support', status: 'connected', attempts: 3 }, 'session connected');
    const [record] = destination.records();
    expect(record).toMatchObject({
      level: 'info',
      name: 'cst-logger',
      tenant: 'acme',
      session: 'support',
      status: 'connected',
      attempts: 3,
      msg: 'session connected',
    });
    expect(typeof record?.time).toBe('string');
    expect(record).not.toHaveProperty('trace_id');
  });

  it('redacts sensitive fields at the top level, nested and in request headers', () => {
    const { destination, logger } = setup();
    logger.info(
      {
        password: SECRETS.password,
        config: { token: SECRETS.token, apiKey: SECRETS.apiKey, timeoutMs: 5000 },
        req: {
          method: 'POST',
          url: '/v1/messages',
          headers: {
            authorization: `Bearer ${SECRETS.bearer}`,
            cookie: SECRETS.cookie,
            'x-api-key': SECRETS.apiKey,
          },
        },
        message: { id: 'msg_1', to: `+${PHONE}`, text: SECRETS.body },
        contact: { phone: `+${PHONE}`, msisdn: PHONE, wa_id: PHONE, name: 'Contact' },
        webhook: { from: PHONE, body: SECRETS.body },
        deeply: { nested: { inside: { secret: SECRETS.password, caption: SECRETS.body } } },
      },
      'outbound queued',
    );
    const text = destination.text();
    for (const value of [...Object.values(SECRETS), PHONE]) expect(text).not.toContain(value);
    const [record] = destination.records();
    expect(record).toMatchObject({
      password: REDACTED,
      config: { token: REDACTED, apiKey: REDACTED, timeoutMs: 5000 },
      req: { method: 'POST', url: '/v1/messages', headers: { authorization: REDACTED, cookie: REDACTED } },
      message: { id: 'msg_1', to: REDACTED, text: REDACTED },
      contact: { name: 'Contact' },
      msg: 'outbound queued',
    });
  });

  it('masks phone numbers, JIDs, LIDs and bearer tokens in free-text messages and format arguments', () => {
    const { destination, logger } = setup();
    logger.info(`message from +${PHONE} to ${PHONE}@s.whatsapp.net`);
    logger.warn('lid %s mapped to %s', `${SECRETS.lid}@lid`, `${PHONE}:3@s.whatsapp.net`);
    logger.debug(
      { note: `retry with Authorization: Bearer ${SECRETS.bearer}` },
      'calling %s',
      `https://x/?token=${SECRETS.token}`,
    );
    const text = destination.text();
    for (const value of [PHONE, SECRETS.lid, SECRETS.bearer, SECRETS.token])
      expect(text).not.toContain(value);
    const records = destination.records();
    expect(records[0]?.msg).toBe(`message from ${PHONE_MASK} to ${PHONE_MASK}@s.whatsapp.net`);
    expect(records[1]?.msg).toBe(`lid ${PHONE_MASK}@lid mapped to ${PHONE_MASK}@s.whatsapp.net`);
    expect(records[2]?.msg).toBe(`calling https://x/?token=${REDACTED}`);
  });

  it('masks err.message and err.stack, and redacts fields on the error, whichever way it is logged', () => {
    const { destination, logger } = setup();
    const error = Object.assign(
      new Error(`send to ${PHONE}@s.whatsapp.net failed: Bearer ${SECRETS.bearer}`),
      {
        config: { headers: { Authorization: `Bearer ${SECRETS.bearer}` } },
        statusCode: 401,
      },
    );
    logger.error(error);
    logger.error({ err: error, session: 'support' }, 'send failed');
    logger.error({ error }, 'send failed again');
    const text = destination.text();
    expect(text).not.toContain(PHONE);
    expect(text).not.toContain(SECRETS.bearer);
    const [first, second, third] = destination.records();
    expect(first?.msg).toBe(`send to ${PHONE_MASK}@s.whatsapp.net failed: Bearer ${REDACTED}`);
    expect(first?.err).toMatchObject({
      type: 'Error',
      statusCode: 401,
      config: { headers: { Authorization: REDACTED } },
    });
    expect(second).toMatchObject({ session: 'support', msg: 'send failed', err: { type: 'Error' } });
    expect((second?.err as { stack?: string } | undefined)?.stack).toContain('logger.test.ts');
    expect(third).toMatchObject({ error: { type: 'Error', statusCode: 401 } });
  });

  it('redacts child bindings', () => {
    const { destination, logger } = setup();
    const child = logger.child({ session: 'support', phone: `+${PHONE}`, owner: `${PHONE}@s.whatsapp.net` });
    child.info('paired');
    child.child({ peer: `+${PHONE}` }).info('grandchild');
    expect(destination.text()).not.toContain(PHONE);
    expect(destination.records()).toMatchObject([
      { session: 'support', phone: REDACTED, owner: `${PHONE_MASK}@s.whatsapp.net`, msg: 'paired' },
      { session: 'support', peer: PHONE_MASK, msg: 'grandchild' },
    ]);
  });

  it('respects the level', () => {
    const destination = new MemoryDestination();
    const logger = createLogger({ level: 'warn', name: 'cst-logger', destination });
    logger.info('hidden');
    logger.warn('shown');
    expect(destination.records().map((r) => r.msg)).toEqual(['shown']);
  });
});

import type { IncomingMessage } from 'node:http';
import { outboundJobSchema, requestIdOf } from '@switchboard/messaging/producer';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors.ts';
import { answerFrameworkError, errorHandlerPlugin } from './error-handler.ts';
import { requestIdFor, requestIdHeaderPlugin } from './request-id.ts';

const withHeader = (value?: string | string[]) =>
  ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('requestIdFor', () => {
  it("keeps the Ingress's X-Request-Id when it is printable and bounded", () => {
    expect(requestIdFor(withHeader('abc'))).toBe('abc');
    expect(requestIdFor(withHeader('5f0c1e3b9d2a4c6e8f1a3b5c7d9e0f12'))).toBe(
      '5f0c1e3b9d2a4c6e8f1a3b5c7d9e0f12',
    );
    expect(requestIdFor(withHeader('x'.repeat(128)))).toBe('x'.repeat(128));
  });

  it('generates an id for a missing, empty, too long, spaced, control-character or repeated header', () => {
    for (const bad of [undefined, '', 'x'.repeat(129), 'a b', 'a\nlevel=error', 'é', ['a', 'b']]) {
      const id = requestIdFor(withHeader(bad));
      expect(id, JSON.stringify(bad)).toMatch(UUID);
    }
    expect(requestIdFor(withHeader())).not.toBe(requestIdFor(withHeader()));
  });
});

describe('the outbound job contract', () => {
  const job = { kind: 'send', tenantId: crypto.randomUUID(), messageId: crypto.randomUUID() };

  it('carries an optional, validated request id', () => {
    expect(outboundJobSchema.parse(job)).toEqual(job);
    expect(outboundJobSchema.parse({ ...job, requestId: 'abc' })).toEqual({ ...job, requestId: 'abc' });
    const refused = outboundJobSchema.safeParse({ ...job, requestId: 'a b' });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toMatch(/printable ASCII/);
    expect(requestIdOf({ ...job, requestId: 'abc' })).toBe('abc');
    expect(requestIdOf({ ...job, requestId: 'x'.repeat(129) })).toBeUndefined();
    expect(requestIdOf(null)).toBeUndefined();
  });
});

describe('requestIdHeaderPlugin', () => {
  it('answers every request with its id: successes, 4xx, 500s, 404s and hijacked replies', async () => {
    const app = Fastify({
      logger: false,
      genReqId: requestIdFor,
      maxParamLength: 20,
      frameworkErrors: answerFrameworkError,
    });
    await app.register(requestIdHeaderPlugin);
    await app.register(errorHandlerPlugin);
    const seen: string[] = [];
    app.addHook('onRequest', async (request) => {
      seen.push(request.id);
    });
    app.get('/ok', async () => ({ ok: true }));
    app.post('/things', async () => ({ ok: true }));
    app.get('/things/:id', async () => ({ ok: true }));
    app.get('/conflict', async () => {
      throw new ApiError('conflict', 'already done');
    });
    app.get('/crash', async () => {
      throw new Error('connection terminated unexpectedly');
    });
    app.get('/stream', (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.end(': connected\n\n');
    });
    try {
      const cases = [
        ['/ok', 200],
        ['/conflict', 409],
        ['/crash', 500],
        ['/nowhere', 404],
        ['/stream', 200],
      ] as const;
      for (const [url, status] of cases) {
        const kept = await app.inject({
          method: 'GET',
          url,
          headers: { 'x-request-id': `ingress-${status}` },
        });
        expect([url, kept.statusCode, kept.headers['x-request-id']]).toEqual([
          url,
          status,
          `ingress-${status}`,
        ]);
        // No header, or one that is not a sane id: the generated id, the one the request was logged under.
        for (const header of [{}, { 'x-request-id': 'a b' }]) {
          const generated = await app.inject({ method: 'GET', url, headers: header });
          expect(generated.statusCode).toBe(status);
          expect(generated.headers['x-request-id']).toMatch(UUID);
          expect(generated.headers['x-request-id']).toBe(seen.at(-1));
        }
      }
      // A body the parser refuses (before any handler) is answered with the id too.
      const bad = await app.inject({
        method: 'POST',
        url: '/things',
        headers: { 'content-type': 'application/json', 'x-request-id': 'ingress-bad-json' },
        payload: '{',
      });
      expect([bad.statusCode, bad.headers['x-request-id']]).toEqual([400, 'ingress-bad-json']);
      // URLs the router refuses before any hook: undecodable, a parameter over maxParamLength.
      for (const [url, status] of [
        ['/things/%zz', 400],
        [`/things/${'x'.repeat(50)}`, 414],
      ] as const) {
        const refused = await app.inject({ method: 'GET', url, headers: { 'x-request-id': 'ingress-url' } });
        expect([refused.statusCode, refused.headers['x-request-id']]).toEqual([status, 'ingress-url']);
        expect(refused.json().error.code).toBe('validation_failed');
        const generated = await app.inject({ method: 'GET', url });
        expect(generated.headers['x-request-id']).toMatch(UUID);
      }
    } finally {
      await app.close();
    }
  });
});

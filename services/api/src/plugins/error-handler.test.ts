import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors.ts';
import { errorHandlerPlugin } from './error-handler.ts';

describe('errorHandlerPlugin', () => {
  it('hands every 500 (and only those) to onServerError with the request id and route, never the body', async () => {
    const reported: Array<{ error: unknown; request: { id: string; method: string; route: string } }> = [];
    const app = Fastify({ logger: false, genReqId: () => 'req-7' });
    await app.register(errorHandlerPlugin, {
      onServerError: (error, request) => reported.push({ error, request }),
    });
    app.post('/v1/things/:id', async () => {
      throw new Error('connection terminated unexpectedly');
    });
    app.get('/v1/missing', async () => {
      throw new ApiError('not_found', 'no such thing');
    });

    const failed = await app.inject({
      method: 'POST',
      url: '/v1/things/42',
      payload: { text: 'secret body' },
    });
    expect(failed.statusCode).toBe(500);
    expect(failed.json()).toEqual({ error: { code: 'internal_error', message: expect.any(String) } });
    expect(failed.body).not.toContain('connection terminated');
    expect(reported).toHaveLength(1);
    expect(reported[0]!.request).toEqual({ id: 'req-7', method: 'POST', route: '/v1/things/:id' });
    expect((reported[0]!.error as Error).message).toBe('connection terminated unexpectedly');

    expect((await app.inject({ method: 'GET', url: '/v1/missing' })).statusCode).toBe(404);
    expect(reported).toHaveLength(1);
    await app.close();
  });
});

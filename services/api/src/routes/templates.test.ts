import { describe, expect, it } from 'vitest';
import { app, bearer, setupApi, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('templates and quick replies', () => {
  it('creates, conflicts on duplicates, updates and deletes', async () => {
    const h = bearer(await tokenFor('a', 'admin'));
    const created = await app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: h,
      payload: { name: 'order_ready', language: 'en_US', body: 'Your order {{1}} is ready' },
    });
    expect(created.statusCode).toBe(201);
    const dup = await app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: h,
      payload: { name: 'order_ready', language: 'en_US', body: 'x' },
    });
    expect(dup.json().error.code).toBe('conflict');
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: h,
      payload: { name: 'Order Ready', language: 'en_US', body: 'x' },
    });
    expect(bad.json().error.issues[0].path).toBe('body.name');
    const id = created.json().id;
    const updated = await app.inject({
      method: 'PATCH',
      url: `/v1/templates/${id}`,
      headers: h,
      payload: { body: 'Order {{1}} ready' },
    });
    expect(updated.json().body).toBe('Order {{1}} ready');
    expect((await app.inject({ method: 'DELETE', url: `/v1/templates/${id}`, headers: h })).statusCode).toBe(
      204,
    );
    expect((await app.inject({ method: 'GET', url: `/v1/templates/${id}`, headers: h })).statusCode).toBe(
      404,
    );

    const reply = await app.inject({
      method: 'POST',
      url: '/v1/quick-replies',
      headers: h,
      payload: { shortcut: 'hours', title: 'Hours', body: '9-17' },
    });
    expect(reply.statusCode).toBe(201);
    const list = await app.inject({
      method: 'GET',
      url: '/v1/quick-replies',
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(
      list
        .json()
        .items.map((r: { shortcut: string }) => r.shortcut)
        .sort(),
    ).toEqual(['hours', 'thanks']);
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/quick-replies/${reply.json().id}`, headers: h }))
        .statusCode,
    ).toBe(204);
  });
});

describe('values Postgres cannot store, found by fuzzing', () => {
  it('a NUL character in text or JSON is a 400, never a 500', async () => {
    const h = bearer(await tokenFor('a', 'admin'));
    for (const [name, payload] of [
      ['nul_in_body', { language: 'en_US', body: 'a\u0000b' }],
      ['nul_in_components', { language: 'en_US', body: 'x', components: [{ type: 'BODY', text: '\u0000' }] }],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/templates',
        headers: h,
        payload: { name, ...payload },
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
    }
    const quickReply = await app.inject({
      method: 'POST',
      url: '/v1/quick-replies',
      headers: h,
      payload: { shortcut: 'nul', title: 'Nul', body: 'a\u0000b' },
    });
    expect(quickReply.statusCode, quickReply.body).toBe(400);
  });
});

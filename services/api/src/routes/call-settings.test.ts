// A session's call handling through the API: off by default, replaced by admins (audited), a bad
// reply text a 400 on its field, another tenant's or an unknown session a 404. Real Postgres.
import { describe, expect, it } from 'vitest';
import { app, auditCount, bearer, seeded, setupApi, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('call settings', () => {
  it('reads the defaults, saves, refuses bad input and other tenants', async () => {
    const admin = await tokenFor('a', 'admin');
    const url = `/v1/sessions/${seeded.a.sessionId}/calls`;
    const initial = await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'viewer')) });
    expect(initial.statusCode).toBe(200);
    expect(initial.json()).toEqual({ rejectCalls: false, replyText: null });

    const body = { rejectCalls: true, replyText: 'We cannot take calls here; please write.' };
    const agent = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(await tokenFor('a', 'agent')),
      payload: body,
    });
    expect(agent.statusCode).toBe(403);
    const blank = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { ...body, replyText: '  ' },
    });
    expect(blank.statusCode).toBe(400);
    expect(blank.json().error.issues[0].path).toBe('body.replyText');

    const saved = await app.inject({ method: 'PUT', url, headers: bearer(admin), payload: body });
    expect(saved.statusCode, saved.body).toBe(200);
    expect(saved.json()).toEqual(body);
    expect((await app.inject({ method: 'GET', url, headers: bearer(admin) })).json()).toEqual(body);
    expect(await auditCount('session.call_settings_updated', seeded.a.sessionId)).toBe(1);

    const other = await app.inject({
      method: 'PUT',
      url: `/v1/sessions/${seeded.b.sessionId}/calls`,
      headers: bearer(admin),
      payload: body,
    });
    expect(other.statusCode).toBe(404);
    const unknown = await app.inject({
      method: 'GET',
      url: '/v1/sessions/00000000-0000-4000-8000-000000000000/calls',
      headers: bearer(admin),
    });
    expect(unknown.statusCode).toBe(404);
  });
});

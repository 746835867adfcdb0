// A session's history import through the API: none by default, 1..90 days saved by admins (audited),
// anything else a 400 naming the field, a Cloud API session a 422 for anything but none, another
// tenant's or an unknown session a 404. Real Postgres.
import { describe, expect, it } from 'vitest';
import {
  app,
  auditCount,
  bearer,
  cloudConversation,
  seeded,
  setupApi,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

describe('history import setting', () => {
  it('reads none by default, saves a window, refuses bad input and other tenants', async () => {
    const admin = await tokenFor('a', 'admin');
    const url = `/v1/sessions/${seeded.a.sessionId}/history-import`;
    const initial = await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'viewer')) });
    expect(initial.statusCode).toBe(200);
    expect(initial.json()).toEqual({ historyImport: 'none' });

    const agent = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(await tokenFor('a', 'agent')),
      payload: { historyImport: 7 },
    });
    expect(agent.statusCode).toBe(403);
    for (const bad of [0, 91, 2.5, '7', 'all', null]) {
      const refused = await app.inject({
        method: 'PUT',
        url,
        headers: bearer(admin),
        payload: { historyImport: bad },
      });
      expect(refused.statusCode, JSON.stringify(bad)).toBe(400);
      expect(refused.json().error.code).toBe('validation_failed');
      expect(refused.json().error.issues[0].path).toBe('body.historyImport');
    }
    const extra = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { historyImport: 7, full: true },
    });
    expect(extra.statusCode).toBe(400);

    const saved = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { historyImport: 30 },
    });
    expect(saved.statusCode, saved.body).toBe(200);
    expect(saved.json()).toEqual({ historyImport: 30 });
    expect((await app.inject({ method: 'GET', url, headers: bearer(admin) })).json()).toEqual({
      historyImport: 30,
    });
    const off = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { historyImport: 'none' },
    });
    expect(off.json()).toEqual({ historyImport: 'none' });
    expect(await auditCount('session.history_import_updated', seeded.a.sessionId)).toBe(2);

    const other = await app.inject({
      method: 'PUT',
      url: `/v1/sessions/${seeded.b.sessionId}/history-import`,
      headers: bearer(admin),
      payload: { historyImport: 7 },
    });
    expect(other.statusCode).toBe(404);
    const unknown = await app.inject({
      method: 'GET',
      url: '/v1/sessions/00000000-0000-4000-8000-000000000000/history-import',
      headers: bearer(admin),
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('answers channel_unsupported for a window on a Cloud API session, and takes none', async () => {
    const admin = await tokenFor('a', 'admin');
    const { sessionId } = await cloudConversation('history-cloud');
    const url = `/v1/sessions/${sessionId}/history-import`;
    const refused = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { historyImport: 7 },
    });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('channel_unsupported');
    expect(refused.json().error.message).toContain('historyImport');
    const none = await app.inject({
      method: 'PUT',
      url,
      headers: bearer(admin),
      payload: { historyImport: 'none' },
    });
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual({ historyImport: 'none' });
  });
});

// Business hours through the API: the defaults (off) before anything is saved, each bad field a
// 400 naming it, a saved schedule read back with whether the tenant is open now, the change
// audited, and only admins changing it. Real Postgres.
import { withTenant } from '@switchboard/db';
import { describe, expect, it } from 'vitest';
import { app, auditCount, bearer, db, seeded, setupApi, tokenFor } from '../testing/api-fixture.ts';

setupApi();

const URL = '/v1/settings/business-hours';
const allWeek = (['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const).map((day) => ({
  day,
  open: '00:00',
  close: '24:00',
}));

describe('business hours', () => {
  it('reads the defaults, refuses bad input by field, saves, and reads back', async () => {
    const admin = await tokenFor('a', 'admin');
    const initial = await app.inject({
      method: 'GET',
      url: URL,
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(initial.statusCode).toBe(200);
    expect(initial.json()).toEqual({
      enabled: false,
      timeZone: 'UTC',
      schedule: [],
      awayMessage: null,
      awayWindowMinutes: 720,
      openNow: false,
    });

    const valid = {
      enabled: true,
      timeZone: 'America/Sao_Paulo',
      schedule: allWeek,
      awayMessage: 'Back soon',
      awayWindowMinutes: 60,
    };
    const refused = async (change: object, path: string, message: RegExp) => {
      const response = await app.inject({
        method: 'PUT',
        url: URL,
        headers: bearer(admin),
        payload: { ...valid, ...change },
      });
      expect(response.statusCode, response.body).toBe(400);
      const issue = response.json().error.issues[0];
      expect(issue.path).toBe(path);
      expect(issue.message).toMatch(message);
    };
    await refused({ timeZone: 'Europe/Atlantis' }, 'body.timeZone', /IANA time zone/);
    await refused(
      { schedule: [{ day: 'mon', open: '17:00', close: '09:00' }] },
      'body.schedule.0.close',
      /before close/,
    );
    await refused(
      { schedule: [{ day: 'mon', open: '25:00', close: '26:00' }] },
      'body.schedule.0.open',
      /HH:MM/,
    );
    await refused({ awayMessage: null }, 'body.awayMessage', /give an awayMessage/);
    await refused({ awayWindowMinutes: 20_000 }, 'body.awayWindowMinutes', /10080/);

    const agent = await app.inject({
      method: 'PUT',
      url: URL,
      headers: bearer(await tokenFor('a', 'agent')),
      payload: valid,
    });
    expect(agent.statusCode).toBe(403);

    const saved = await app.inject({ method: 'PUT', url: URL, headers: bearer(admin), payload: valid });
    expect(saved.statusCode, saved.body).toBe(200);
    // Open around the clock: open now, whatever the time of the run.
    expect(saved.json()).toEqual({ ...valid, openNow: true });
    const read = await app.inject({ method: 'GET', url: URL, headers: bearer(admin) });
    expect(read.json()).toEqual({ ...valid, openNow: true });
    expect(await auditCount('settings.business_hours_updated', seeded.a.tenantId)).toBe(1);
    // Tenant B sees only its own (the defaults).
    const other = await app.inject({
      method: 'GET',
      url: URL,
      headers: bearer(await tokenFor('b', 'admin')),
    });
    expect(other.json().enabled).toBe(false);
    expect(await withTenant(db, seeded.b.tenantId, (tx) => tx.businessHours.count())).toBe(0);
  });
});

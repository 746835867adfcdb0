// Campaigns and contact imports through the API, with the worker's CampaignRunner run in-process
// on the same Postgres and Redis: a CSV import reports its bad rows by line and reason; a
// campaign from a template to the import's contacts skips the contact who replied STOP (shown as
// `skipped: opted_out`), queues at most its per-minute allowance per minute through the normal
// outbound path (one message per contact, its job on the session's queue), pauses, resumes and
// cancels; the recipients show their message's status and failure reason; progress and
// completion are webhook deliveries. Real Postgres and Redis.
import { withTenant } from '@switchboard/db';
import { CampaignRunner, QUEUE_NAMES } from '@switchboard/messaging/producer';
import { afterAll, describe, expect, it } from 'vitest';
import {
  app,
  auditCount,
  bearer,
  cloudConversation,
  db,
  redis,
  seeded,
  setupApi,
  slugA,
  tenantQueue,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

let runner: CampaignRunner | undefined;
afterAll(async () => {
  await runner?.close();
});

const CSV = [
  'phone,name,labels',
  '+49 151 0000 0001,Ana,vip;newsletter',
  '4915100000002,Bruno,',
  'not-a-number,Nobody,',
  '0049 151 0000 0001,Ana again,',
  ',Empty,',
  '4915100000003,Carla,vip',
  '4915100000004,,',
  '4915100000005,Eva,',
].join('\n');

describe('contact import', () => {
  it('reports bad rows by line and reason, and imports the rest with their labels', async () => {
    const admin = bearer(await tokenFor('a', 'admin'));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/contact-imports',
      headers: admin,
      payload: { fileName: 'customers.csv', csv: CSV },
    });
    expect(res.statusCode, res.body).toBe(201);
    const report = res.json();
    expect(report).toMatchObject({ fileName: 'customers.csv', totalRows: 8, imported: 5 });
    expect(report.rejected).toEqual([
      { line: 4, reason: 'phone "not-a-number" is not an international number (8 to 15 digits)' },
      { line: 5, reason: 'phone 4915100000001 repeats line 2' },
      { line: 6, reason: 'phone is empty' },
    ]);
    const vip = await withTenant(db, seeded.a.tenantId, async (tx) => {
      const label = await tx.label.findFirstOrThrow({ where: { name: 'vip' } });
      return await tx.contactLabel.count({ where: { labelId: label.id } });
    });
    expect(vip).toBe(2);
    expect(await auditCount('contacts.imported', report.id)).toBe(1);

    // A file that is not CSV, or without a phone column, is refused whole.
    for (const csv of ['name\nAna', 'phone,name\n"unclosed,x']) {
      const bad = await app.inject({
        method: 'POST',
        url: '/v1/contact-imports',
        headers: admin,
        payload: { fileName: 'bad.csv', csv },
      });
      expect(bad.statusCode, bad.body).toBe(400);
    }
    const again = await app.inject({
      method: 'GET',
      url: `/v1/contact-imports/${report.id}`,
      headers: admin,
    });
    expect(again.json()).toEqual(report);
  });
});

describe('campaigns', () => {
  it('sends once per contact within its allowance, skips opt-outs, pauses, resumes, cancels, reports', async () => {
    const admin = bearer(await tokenFor('a', 'admin'));
    const { tenantId } = seeded.a;
    const { sessionId } = await cloudConversation('campaigns');
    const imported = (
      await app.inject({
        method: 'POST',
        url: '/v1/contact-imports',
        headers: admin,
        payload: {
          fileName: 'campaign.csv',
          csv: 'phone,name\n4917000000001,One\n4917000000002,Two\n4917000000003,Three\n4917000000004,Four\n4917000000005,Five',
        },
      })
    ).json();
    // Four replied STOP (in any case, with spaces) before the campaign: opted out.
    await withTenant(db, tenantId, async (tx) => {
      const four = imported.contactIds[3] as string;
      const conversation = await tx.conversation.create({ data: { tenantId, sessionId, contactId: four } });
      await tx.message.create({
        data: {
          tenantId,
          sessionId,
          conversationId: conversation.id,
          direction: 'inbound',
          status: 'delivered',
          type: 'text',
          body: '  stop ',
        },
      });
      await tx.webhookSubscription.create({
        data: {
          tenantId,
          url: 'https://a.example/campaigns',
          events: ['campaign.progress', 'campaign.completed'],
          secretRef: 's',
        },
      });
    });
    const create = (payload: object) =>
      app.inject({ method: 'POST', url: '/v1/campaigns', headers: admin, payload });
    const valid = {
      name: 'Launch',
      sessionId,
      template: { name: 'welcome', language: 'en' },
      segment: { type: 'import', importId: imported.id },
      perMinute: 2,
    };
    // Refusals: a Baileys session, an unknown template, another tenant's label, an agent.
    const baileys = await create({ ...valid, sessionId: seeded.a.sessionId });
    expect([baileys.statusCode, baileys.json().error.code]).toEqual([422, 'channel_unsupported']);
    expect((await create({ ...valid, template: { name: 'nope', language: 'en' } })).statusCode).toBe(400);
    const label = await create({ ...valid, segment: { type: 'label', labelId: seeded.b.contactId } });
    expect(label.json().error.issues[0].path).toBe('body.segment.labelId');
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/campaigns',
          headers: bearer(await tokenFor('a', 'agent')),
          payload: valid,
        })
      ).statusCode,
    ).toBe(403);

    const created = await create(valid);
    expect(created.statusCode, created.body).toBe(201);
    const campaign = created.json();
    expect(campaign.counts).toMatchObject({ total: 5, pending: 4, skipped: 1 });
    expect(await auditCount('campaign.created', campaign.id)).toBe(1);

    runner = new CampaignRunner({ db, redis, tenantId, keyPrefix: `sb:${slugA}:` });
    // The allowance: 2 a minute. A second tick within the minute queues nothing more.
    const [first] = await runner.tick();
    expect(first).toMatchObject({ campaignId: campaign.id, queued: 2, completed: false });
    expect((await runner.tick()).find((r) => r.campaignId === campaign.id)?.queued).toBe(0);

    const recipients = async (query = '') =>
      (
        await app.inject({
          method: 'GET',
          url: `/v1/campaigns/${campaign.id}/recipients${query}`,
          headers: admin,
        })
      ).json().items as {
        contactId: string;
        status: string;
        reason: string | null;
        messageId: string | null;
      }[];
    const queued = (await recipients()).filter((r) => r.status === 'queued');
    expect(queued).toHaveLength(2);
    expect(await recipients('?status=skipped')).toEqual([
      expect.objectContaining({ contactId: imported.contactIds[3], status: 'skipped', reason: 'opted_out' }),
    ]);
    // Each through the normal outbound path: a template message keyed by (campaign, contact), its job queued.
    const messages = await withTenant(db, tenantId, (tx) =>
      tx.message.findMany({ where: { id: { in: queued.map((r) => r.messageId!) } } }),
    );
    expect(messages.map((m) => [m.type, m.status, m.body])).toEqual([
      ['template', 'queued', `Hi from ${slugA}`],
      ['template', 'queued', `Hi from ${slugA}`],
    ]);
    expect(messages.map((m) => m.idempotencyKey).sort()).toEqual(
      queued.map((r) => `campaign:${campaign.id}:${r.contactId}`).sort(),
    );
    const queue = tenantQueue(QUEUE_NAMES.outbound(sessionId));
    for (const m of messages) expect(await queue.getJob(`send-${m.id}`)).toBeDefined();
    await queue.close();

    // Statuses of the messages are the recipients' results.
    await withTenant(db, tenantId, async (tx) => {
      await tx.message.update({ where: { id: messages[0]!.id }, data: { status: 'delivered' } });
      await tx.message.update({
        where: { id: messages[1]!.id },
        data: { status: 'failed', failureReason: '131026 Message undeliverable' },
      });
    });
    expect(await recipients('?status=failed')).toEqual([
      expect.objectContaining({ status: 'failed', reason: '131026 Message undeliverable' }),
    ]);
    expect((await recipients('?status=delivered')).length).toBe(1);

    // Pause: nothing is queued (the allowance aside); resume; cancel skips the rest.
    const act = (action: string) =>
      app.inject({ method: 'POST', url: `/v1/campaigns/${campaign.id}/${action}`, headers: admin });
    expect((await act('pause')).json().status).toBe('paused');
    expect((await act('pause')).statusCode).toBe(409);
    expect((await runner.tick()).some((r) => r.campaignId === campaign.id)).toBe(false);
    expect((await act('resume')).json().status).toBe('running');
    const cancelled = (await act('cancel')).json();
    expect(cancelled).toMatchObject({
      status: 'cancelled',
      counts: { total: 5, pending: 0, skipped: 3, delivered: 1, failed: 1 },
    });
    expect((await recipients('?status=skipped')).map((r) => r.reason).sort()).toEqual([
      'cancelled',
      'cancelled',
      'opted_out',
    ]);
    expect((await act('resume')).statusCode).toBe(409);

    const events = await withTenant(db, tenantId, (tx) =>
      tx.webhookDelivery.findMany({
        where: { eventType: { startsWith: 'campaign.' } },
        orderBy: { createdAt: 'asc' },
      }),
    );
    expect(events.map((e) => e.eventType)).toEqual([
      'campaign.progress',
      'campaign.progress',
      'campaign.progress',
      'campaign.completed',
    ]);
    expect(events.at(-1)?.payload).toMatchObject({
      data: { campaignId: campaign.id, status: 'cancelled', skipped: 3 },
    });
  });

  it('completes a campaign whose recipients were all queued, once', async () => {
    const admin = bearer(await tokenFor('a', 'admin'));
    const { tenantId } = seeded.a;
    const { sessionId } = await cloudConversation('campaigns-complete');
    const imported = (
      await app.inject({
        method: 'POST',
        url: '/v1/contact-imports',
        headers: admin,
        payload: { fileName: 'small.csv', csv: 'phone\n4917100000001\n4917100000002' },
      })
    ).json();
    const campaign = (
      await app.inject({
        method: 'POST',
        url: '/v1/campaigns',
        headers: admin,
        payload: {
          name: 'Small',
          sessionId,
          template: { name: 'welcome', language: 'en' },
          segment: { type: 'import', importId: imported.id },
        },
      })
    ).json();
    runner ??= new CampaignRunner({ db, redis, tenantId, keyPrefix: `sb:${slugA}:` });
    const result = await runner.runCampaign(campaign.id);
    expect(result).toMatchObject({ queued: 2, completed: true });
    expect(await runner.runCampaign(campaign.id)).toMatchObject({ queued: 0, completed: false });
    const read = (
      await app.inject({ method: 'GET', url: `/v1/campaigns/${campaign.id}`, headers: admin })
    ).json();
    expect(read).toMatchObject({ status: 'completed', counts: { total: 2, queued: 2, pending: 0 } });
    expect(read.completedAt).not.toBeNull();
    const count = await withTenant(db, tenantId, (tx) =>
      tx.message.count({ where: { idempotencyKey: { startsWith: `campaign:${campaign.id}:` } } }),
    );
    expect(count).toBe(2);
  });

  it("keeps within the number's messaging limit: unique customers reached by templates in 24 hours", async () => {
    const admin = bearer(await tokenFor('a', 'admin'));
    const { tenantId } = seeded.a;
    const { sessionId } = await cloudConversation('campaigns-tier');
    const limit = (payload: object, id = sessionId) =>
      app.inject({ method: 'PUT', url: `/v1/sessions/${id}/messaging-limit`, headers: admin, payload });
    // Meta's tiers only; null lifts it; a WhatsApp app number has none.
    const off = await limit({ messagingLimit: 300 });
    expect([off.statusCode, off.json().error.issues[0].path]).toEqual([400, 'body.messagingLimit']);
    const baileys = await limit({ messagingLimit: 250 }, seeded.a.sessionId);
    expect([baileys.statusCode, baileys.json().error.code]).toEqual([422, 'channel_unsupported']);
    const set = await limit({ messagingLimit: 1000 });
    expect([set.statusCode, set.json()]).toEqual([200, { messagingLimit: 1000 }]);
    expect(await auditCount('session.messaging_limit_updated', sessionId)).toBe(1);
    const read = await app.inject({
      method: 'GET',
      url: `/v1/sessions/${sessionId}/messaging-limit`,
      headers: bearer(await tokenFor('a', 'viewer')),
    });
    expect(read.json()).toEqual({ messagingLimit: 1000 });

    // The runner, with a limit of 2 (set in the database: the tiers are too large for a test).
    await withTenant(db, tenantId, (tx) =>
      tx.session.update({ where: { id: sessionId }, data: { messagingLimit: 2 } }),
    );
    const imported = (
      await app.inject({
        method: 'POST',
        url: '/v1/contact-imports',
        headers: admin,
        payload: { fileName: 'tier.csv', csv: 'phone\n4917200000001\n4917200000002\n4917200000003' },
      })
    ).json();
    const campaign = (
      await app.inject({
        method: 'POST',
        url: '/v1/campaigns',
        headers: admin,
        payload: {
          name: 'Tiered',
          sessionId,
          template: { name: 'welcome', language: 'en' },
          segment: { type: 'import', importId: imported.id },
        },
      })
    ).json();
    runner ??= new CampaignRunner({ db, redis, tenantId, keyPrefix: `sb:${slugA}:` });
    expect(await runner.runCampaign(campaign.id)).toMatchObject({ queued: 2, completed: false });
    // The limit is reached: nothing more, whatever the pace allows.
    expect(await runner.runCampaign(campaign.id)).toMatchObject({ queued: 0, completed: false });
    // 24 hours later (the two messages aged), the third goes.
    await withTenant(db, tenantId, (tx) =>
      tx.message.updateMany({
        where: { idempotencyKey: { startsWith: `campaign:${campaign.id}:` } },
        data: { createdAt: new Date(Date.now() - 25 * 3600_000) },
      }),
    );
    expect(await runner.runCampaign(campaign.id)).toMatchObject({ queued: 1, completed: true });
    expect((await limit({ messagingLimit: null })).json()).toEqual({ messagingLimit: null });
  });
});

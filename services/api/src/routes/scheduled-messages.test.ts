import { outboundJobSchema, QUEUE_NAMES } from '@switchboard/messaging/producer';
import { describe, expect, it } from 'vitest';
import { app, auditCount, bearer, seeded, setupApi, tenantQueue, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('scheduled messages', () => {
  it('stores the row with a delayed job, lists by status, and cancels removing the job', async () => {
    const h = bearer(await tokenFor('a', 'agent'));
    const { conversationId, sessionId, tenantId } = seeded.a;
    const schedule = (payload: object, headers: Record<string, string> = h) =>
      app.inject({ method: 'POST', url: '/v1/scheduled-messages', headers, payload });
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    // The Ingress's request id: the job carries it, so the worker's lines for the send do too.
    const created = await schedule(
      { conversationId, content: { type: 'text', text: 'later' }, sendAt },
      { ...h, 'x-request-id': 'sched-req-1' },
    );
    expect(created.statusCode).toBe(201);
    expect(created.headers['x-request-id']).toBe('sched-req-1');
    const row = created.json();
    expect(row).toMatchObject({ status: 'scheduled', sessionId, conversationId, sendAt, messageId: null });
    expect(row.content).toEqual({ type: 'text', text: 'later' });
    const queue = tenantQueue(QUEUE_NAMES.outbound(sessionId));
    try {
      const job = await queue.getJob(`scheduled-${row.id}`);
      expect(job, 'the delayed job').toBeDefined();
      expect(outboundJobSchema.parse(job!.data)).toEqual({
        kind: 'scheduled',
        tenantId,
        scheduledMessageId: row.id,
        requestId: 'sched-req-1',
      });
      expect(await job!.isDelayed()).toBe(true);
      expect(job!.opts.delay).toBeGreaterThan(0);
      expect(job!.opts.delay).toBeLessThanOrEqual(3_600_000);

      for (const [payload, path] of [
        [
          {
            conversationId,
            content: { type: 'text', text: 'x' },
            sendAt: new Date(Date.now() - 1000).toISOString(),
          },
          'body.sendAt',
        ],
        [
          {
            conversationId,
            content: { type: 'text', text: 'x' },
            sendAt: new Date(Date.now() + 800 * 86_400_000).toISOString(),
          },
          'body.sendAt',
        ],
        [{ conversationId, content: { type: 'text', text: '' }, sendAt }, 'body.content.text'],
        [{ conversationId, content: { type: 'sticker' }, sendAt }, 'body.content.type'],
      ] as const) {
        const res = await schedule(payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(res.json().error.issues.map((i: { path: string }) => i.path)).toContain(path);
      }
      const foreign = await schedule({
        conversationId: seeded.b.conversationId,
        content: { type: 'text', text: 'x' },
        sendAt,
      });
      expect(foreign.statusCode).toBe(404);
      const viewer = await schedule(
        { conversationId, content: { type: 'text', text: 'x' }, sendAt },
        bearer(await tokenFor('a', 'viewer')),
      );
      expect(viewer.statusCode).toBe(403);

      const list = (status: string) =>
        app.inject({ method: 'GET', url: `/v1/scheduled-messages?status=${status}`, headers: h });
      expect((await list('scheduled')).json().items.map((i: { id: string }) => i.id)).toContain(row.id);
      expect((await list('cancelled')).json().items.map((i: { id: string }) => i.id)).not.toContain(row.id);

      const cancel = () =>
        app.inject({ method: 'POST', url: `/v1/scheduled-messages/${row.id}/cancel`, headers: h });
      const cancelled = await cancel();
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json().status).toBe('cancelled');
      expect(await queue.getJob(`scheduled-${row.id}`)).toBeUndefined();
      expect((await cancel()).statusCode).toBe(409);
      expect((await list('cancelled')).json().items.map((i: { id: string }) => i.id)).toContain(row.id);
      const got = await app.inject({ method: 'GET', url: `/v1/scheduled-messages/${row.id}`, headers: h });
      expect(got.json().status).toBe('cancelled');
    } finally {
      await queue.close();
    }
    expect(await auditCount('scheduled_message.created', row.id)).toBe(1);
    expect(await auditCount('scheduled_message.cancelled', row.id)).toBe(1);
  });
});

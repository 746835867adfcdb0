import { randomUUID } from 'node:crypto';
import { withTenant } from '@switchboard/db';
import { QUEUE_NAMES, queuePrefix, sessionCommandSchema } from '@switchboard/messaging/producer';
import { redisOptions } from '@switchboard/testing';
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  app,
  auditCount,
  bearer,
  cloudConversation,
  db,
  eventually,
  redis,
  seeded,
  setupApi,
  slugA,
  suffix,
  tenantQueue,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

describe('sessions', () => {
  it('creates, reads the pairing challenge from Redis, and refuses to delete declared sessions', async () => {
    const admin = await tokenFor('a', 'admin');
    // A Cloud API number needs its Meta credentials, which live in the tenant's secret provider
    // and are declared in the WhatsAppTenant: the API refuses to create one it could never open.
    const cloud = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: bearer(admin),
      payload: { name: 'meta', channel: 'cloud-api' },
    });
    expect(cloud.statusCode).toBe(422);
    expect(cloud.json().error).toMatchObject({ code: 'channel_unsupported' });
    expect(cloud.json().error.message).toContain('spec.sessions');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: bearer(admin),
      payload: { name: 'sales', channel: 'baileys' },
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json();
    expect(created.json()).toMatchObject({ channel: 'baileys', state: 'unpaired', declared: false });
    const none = await app.inject({
      method: 'GET',
      url: `/v1/sessions/${id}/pairing`,
      headers: bearer(admin),
    });
    expect(none.statusCode).toBe(204);
    const record = {
      sessionId: id,
      kind: 'qr',
      code: '2@abc,def',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      sequence: 1,
    };
    await redis.set(`sb:${slugA}:session:${id}:pairing`, JSON.stringify(record), 'PX', 60_000);
    const pairing = await app.inject({
      method: 'GET',
      url: `/v1/sessions/${id}/pairing`,
      headers: bearer(admin),
    });
    expect(pairing.json()).toEqual(record);
    const dup = await app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: bearer(admin),
      payload: { name: 'sales', channel: 'baileys' },
    });
    expect(dup.statusCode).toBe(409);
    const declared = await app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${seeded.a.declaredSessionId}`,
      headers: bearer(admin),
    });
    expect(declared.json().error.code).toBe('declared_session');
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: bearer(admin) })).statusCode,
    ).toBe(204);
  });
});

describe('dead letters', () => {
  it("lists a session's failed sends with their error and replays one once, for admins only", async () => {
    const admin = await tokenFor('a', 'admin');
    const { sessionId, messageId, tenantId } = seeded.a;
    const queue = tenantQueue(QUEUE_NAMES.outbound(sessionId));
    await withTenant(db, tenantId, (tx) =>
      tx.message.update({
        where: { id: messageId },
        data: { status: 'failed', failureReason: 'INVALID_NUMBER' },
      }),
    );
    // A consumer that fails the job for good, as the worker's does for an unrecoverable error.
    const worker = new Worker(
      QUEUE_NAMES.outbound(sessionId),
      async () => {
        throw new UnrecoverableError('INVALID_NUMBER: not on WhatsApp');
      },
      {
        connection: new Redis({ ...redisOptions(), maxRetriesPerRequest: null }),
        prefix: queuePrefix(`sb:${slugA}:`),
      },
    );
    const jobId = `send-${messageId}`;
    await queue.add('send', { kind: 'send', tenantId, messageId }, { jobId, attempts: 3 });
    await eventually('the job is failed', async () => (await queue.getJobState(jobId)) === 'failed', 10_000);
    await worker.close();
    await worker.disconnect();

    const url = `/v1/sessions/${sessionId}/dead-letters`;
    expect(
      (await app.inject({ method: 'GET', url, headers: bearer(await tokenFor('a', 'agent')) })).statusCode,
    ).toBe(403);
    const list = await app.inject({ method: 'GET', url, headers: bearer(admin) });
    expect(list.statusCode).toBe(200);
    const mine = (body: { items: { jobId: string }[] }) => body.items.filter((item) => item.jobId === jobId);
    expect(mine(list.json())).toEqual([
      expect.objectContaining({
        jobId,
        kind: 'send',
        messageId,
        scheduledMessageId: null,
        failedReason: 'INVALID_NUMBER: not on WhatsApp',
        attemptsMade: 1,
      }),
    ]);
    const replay = () =>
      app.inject({ method: 'POST', url: `${url}/${jobId}/replay`, headers: bearer(admin) });
    expect((await replay()).statusCode).toBe(202);
    expect(await queue.getJobState(jobId)).toBe('waiting');
    const message = await withTenant(db, tenantId, (tx) =>
      tx.message.findUniqueOrThrow({ where: { id: messageId } }),
    );
    expect(message).toMatchObject({ status: 'queued', failureReason: null });
    expect(await auditCount('dead_letter.replayed', sessionId)).toBe(1);
    // Not failed any more: a second click is refused, and the list is empty.
    expect((await replay()).statusCode).toBe(409);
    expect(mine((await app.inject({ method: 'GET', url, headers: bearer(admin) })).json())).toEqual([]);
    const missing = await app.inject({
      method: 'POST',
      url: `${url}/send-${randomUUID()}/replay`,
      headers: bearer(admin),
    });
    expect(missing.statusCode).toBe(404);
    const bad = await app.inject({ method: 'POST', url: `${url}/nope/replay`, headers: bearer(admin) });
    expect(bad.json().error.message).toContain('params.jobId');
    await queue.obliterate({ force: true });
    await queue.close();
  });
});

describe('session commands', () => {
  it('queues one logout command per session however often it is asked, and refuses Cloud API sessions', async () => {
    const admin = await tokenFor('a', 'admin');
    const { sessionId, tenantId } = seeded.a;
    const logout = (id: string, token = admin) =>
      app.inject({ method: 'POST', url: `/v1/sessions/${id}/logout`, headers: bearer(token) });
    const first = await logout(sessionId);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ status: 'accepted', commandId: `logout-${sessionId}` });
    expect((await logout(sessionId)).json().commandId).toBe(`logout-${sessionId}`);
    const queue = tenantQueue(QUEUE_NAMES.sessionCommands(sessionId));
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      const logouts = jobs.filter((j) => j.data.type === 'logout');
      expect(logouts).toHaveLength(1);
      expect(logouts[0]!.id).toBe(`logout-${sessionId}`);
      expect(sessionCommandSchema.parse(logouts[0]!.data)).toEqual({
        type: 'logout',
        tenantId,
        sessionId,
        requestedBy: seeded.a.users.admin.id,
      });
    } finally {
      await queue.close();
    }
    expect(await auditCount('session.logout_requested', sessionId)).toBe(2);
    expect((await logout(sessionId, await tokenFor('a', 'agent'))).statusCode).toBe(403);
    const cloud = await cloudConversation(`cloud-logout-${suffix}`);
    const refused = await logout(cloud.sessionId);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toContain('Cloud API');
    const cloudQueue = tenantQueue(QUEUE_NAMES.sessionCommands(cloud.sessionId));
    try {
      expect(await cloudQueue.count()).toBe(0);
    } finally {
      await cloudQueue.close();
    }
  });

  it('queues one pairing-code command per number and refuses bad numbers and connected sessions', async () => {
    const h = bearer(await tokenFor('a', 'owner'));
    const { tenantId } = seeded.a;
    const session = await withTenant(db, tenantId, (tx) =>
      tx.session.create({ data: { tenantId, name: `pair-${suffix}`, channel: 'baileys', state: 'pairing' } }),
    );
    const ask = (phoneNumber: unknown, id = session.id) =>
      app.inject({
        method: 'POST',
        url: `/v1/sessions/${id}/pairing-code`,
        headers: h,
        payload: { phoneNumber },
      });
    expect((await ask('4915112345678')).statusCode).toBe(202);
    expect((await ask('4915112345678')).json().commandId).toBe(`pairing-code-${session.id}-4915112345678`);
    expect((await ask('4915199999999')).statusCode).toBe(202);
    const bad = await ask('+49 151 1234');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues[0].path).toBe('body.phoneNumber');
    const queue = tenantQueue(QUEUE_NAMES.sessionCommands(session.id));
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      expect(jobs.map((j) => j.id).sort()).toEqual([
        `pairing-code-${session.id}-4915112345678`,
        `pairing-code-${session.id}-4915199999999`,
      ]);
      const job = jobs.find((j) => j.id?.endsWith('4915112345678'))!;
      expect(sessionCommandSchema.parse(job.data)).toEqual({
        type: 'pairing-code',
        tenantId,
        sessionId: session.id,
        phoneNumber: '4915112345678',
        requestedBy: seeded.a.users.owner.id,
      });
    } finally {
      await queue.close();
    }
    expect(await auditCount('session.pairing_code_requested', session.id)).toBe(3);
    await withTenant(db, tenantId, (tx) =>
      tx.session.update({ where: { id: session.id }, data: { state: 'connected' } }),
    );
    expect((await ask('4915112345678')).statusCode).toBe(409);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { withTenant } from '@switchboard/db';
import { publishRealtimeEvent, REALTIME_EVENT_FIELD } from '@switchboard/messaging/producer';
import { hashPassword } from '@switchboard/passwords';
import { MetricsRegistry } from '@switchboard/telemetry';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { signAccessToken } from '../plugins/auth.ts';
import type { RealtimeOptions } from '../realtime/index.ts';
import {
  app,
  bearer,
  db,
  eventually,
  PASSWORD,
  redis,
  SCRYPT,
  seeded,
  setupApi,
  slugA,
  slugB,
  tokenFor,
} from '../testing/api-fixture.ts';

setupApi();

/** One SSE block as a client sees it. */
interface Block {
  id?: string;
  event?: string;
  data?: unknown;
  comment?: string;
}

/** A real HTTP client on an SSE stream: the status, then blocks one by one (`null` at the end). */
async function openStream(url: string, headers: Record<string, string>) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  const next = async (): Promise<Block | null> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const block: Block = {};
        for (const line of text.split('\n')) {
          if (line.startsWith(':')) block.comment = line.slice(1).trim();
          else if (line.startsWith('id: ')) block.id = line.slice(4);
          else if (line.startsWith('event: ')) block.event = line.slice(7);
          else if (line.startsWith('data: ')) block.data = JSON.parse(line.slice(6));
        }
        return block;
      }
      if (ended) return null;
      const { value, done } = await reader.read();
      if (done) ended = true;
      else buffer += decoder.decode(value, { stream: true });
    }
  };
  /** The next block that is not a comment. */
  const nextEvent = async (): Promise<Block | null> => {
    for (;;) {
      const block = await next();
      if (!block?.comment) return block;
    }
  };
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    /** The body when the answer is not a stream (an error). */
    json: async () => JSON.parse(new TextDecoder().decode((await reader.read()).value)),
    next,
    nextEvent,
    close: () => {
      abort.abort();
      return reader.cancel().catch(() => {});
    },
  };
}
type Stream = Awaited<ReturnType<typeof openStream>>;

const event = (conversationId: string) => ({
  type: 'conversation.updated' as const,
  at: new Date().toISOString(),
  data: { conversationId },
});
const keyA = () => `sb:${slugA}:`;

/** The conversation id of an event block; throws at the end of the stream. */
function conversationOf(block: Block | null): string {
  if (!block) throw new Error('the stream ended');
  return (block.data as { data: { conversationId: string } }).data.conversationId;
}

async function expectConnected(stream: Stream) {
  expect(stream.status).toBe(200);
  expect(stream.contentType).toBe('text/event-stream');
  expect(await stream.next()).toEqual({ comment: 'connected' });
}

describe('realtime', () => {
  it("streams only the caller's tenant and resumes after Last-Event-ID without losing events", async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address}/v1/realtime`;
    const token = await tokenFor('a', 'viewer');
    const keyB = `sb:${slugB}:`;
    const stream = await openStream(url, bearer(token));
    await expectConnected(stream);
    await publishRealtimeEvent(redis, keyB, event(seeded.b.conversationId));
    const firstId = await publishRealtimeEvent(redis, keyA(), event(seeded.a.conversationId));
    expect(await stream.nextEvent()).toEqual({
      id: firstId,
      event: 'conversation.updated',
      data: expect.objectContaining({ data: { conversationId: seeded.a.conversationId } }),
    });
    await stream.close();
    // While disconnected, more events than one resumption page (500); the reconnect asks for
    // everything after the first, and a live event published after it connected follows them.
    const missed = Array.from({ length: 1_203 }, () => randomUUID());
    const pipeline = redis.pipeline();
    for (const id of missed)
      pipeline.xadd(`${keyA()}events`, '*', REALTIME_EVENT_FIELD, JSON.stringify(event(id)));
    await pipeline.exec();
    const resumed = await openStream(url, { ...bearer(token), 'last-event-id': firstId });
    await expectConnected(resumed);
    const live = randomUUID();
    await publishRealtimeEvent(redis, keyA(), event(live));
    const got: string[] = [];
    for (let i = 0; i < missed.length + 1; i++) {
      got.push(conversationOf(await resumed.nextEvent()));
    }
    expect(got).toEqual([...missed, live]);
    await resumed.close();
    const bad = await app.inject({
      method: 'GET',
      url: '/v1/realtime',
      headers: { ...bearer(token), 'last-event-id': 'nope' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

/**
 * An app of this file's own with the realtime settings under test: at most 2 streams per
 * principal, the default 256 KiB buffered per stream, and a periodic re-check too rare to matter,
 * so a stream that ends here ended because of what the test did.
 */
describe('realtime streams and their credentials', () => {
  const signingKey = randomBytes(32).toString('hex');
  let rt: FastifyInstance;
  let url: string;
  let metrics: MetricsRegistry;
  let ownerToken: string;
  const opened: Stream[] = [];

  async function build(realtime: RealtimeOptions, registry?: MetricsRegistry) {
    return buildApp({
      db,
      redis,
      tenant: { slug: slugA, displayName: 'Tenant A' },
      jwtSigningKey: signingKey,
      scrypt: SCRYPT,
      rateLimitPerMinute: 100_000,
      inboxDir: null,
      realtime,
      ...(registry ? { metrics: registry } : {}),
    });
  }

  /** A new member of tenant A with `role`, and an access token from `on`'s login. */
  async function newMember(on: FastifyInstance, role: 'viewer' | 'agent' | 'admin' = 'agent') {
    const { tenantId } = seeded.a;
    const email = `rt-${randomBytes(4).toString('hex')}@${slugA}.test`;
    const passwordHash = await hashPassword(PASSWORD, SCRYPT);
    const userId = await withTenant(db, tenantId, async (tx) => {
      const user = await tx.user.create({ data: { tenantId, email, displayName: email, passwordHash } });
      await tx.membership.create({ data: { tenantId, userId: user.id, role } });
      return user.id;
    });
    const res = await on.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { tenant: slugA, email, password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    return { userId, email, token: res.json().accessToken as string };
  }

  async function newApiKey(scopes: string[] = ['read']) {
    const res = await rt.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(ownerToken),
      payload: { name: `rt-${randomBytes(3).toString('hex')}`, scopes },
    });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; key: string };
  }

  async function open(headers: Record<string, string>, at = url) {
    const stream = await openStream(at, headers);
    opened.push(stream);
    return stream;
  }

  function closedCount(reason: string): Promise<number> {
    return metrics.registry
      .getSingleMetric('switchboard_api_realtime_streams_closed_total')!
      .get()
      .then((m) => m.values.find((v) => v.labels.reason === reason)?.value ?? 0);
  }

  beforeAll(async () => {
    metrics = new MetricsRegistry({ service: 'realtime-test', collectDefaultMetrics: false });
    rt = await build(
      {
        maxStreamsPerPrincipal: 2,
        maxBufferedBytes: 256 * 1024,
        recheckIntervalMs: 3_600_000,
        // The slow client below reads its final event whenever it resumes, not within a time.
        slowCloseGraceMs: 3_600_000,
      },
      metrics,
    );
    url = `${await rt.listen({ port: 0, host: '127.0.0.1' })}/v1/realtime`;
    ownerToken = (await newMember(rt, 'admin')).token;
  });

  afterAll(async () => {
    for (const stream of opened) await stream.close();
    await rt?.close();
  });

  it("a revoked API key's stream ends at once with stream.closed credential_revoked", async () => {
    const key = await newApiKey();
    const stream = await open({ 'x-api-key': key.key });
    await expectConnected(stream);
    const id = await publishRealtimeEvent(redis, keyA(), event(randomUUID()));
    expect((await stream.nextEvent())?.id).toBe(id);
    const revoked = await rt.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${key.id}`,
      headers: bearer(ownerToken),
    });
    expect(revoked.statusCode).toBe(204);
    expect(await stream.nextEvent()).toEqual({
      event: 'stream.closed',
      data: expect.objectContaining({ type: 'stream.closed', reason: 'credential_revoked' }),
    });
    expect(await stream.next()).toBeNull();
    // And it cannot come back.
    expect((await open({ 'x-api-key': key.key })).status).toBe(401);
  });

  it("a removed member's stream ends at once with stream.closed member_removed", async () => {
    const member = await newMember(rt);
    const stream = await open(bearer(member.token));
    await expectConnected(stream);
    const removed = await rt.inject({
      method: 'DELETE',
      url: `/v1/team/${member.userId}`,
      headers: bearer(ownerToken),
    });
    expect(removed.statusCode).toBe(204);
    expect(await stream.nextEvent()).toEqual({
      event: 'stream.closed',
      data: expect.objectContaining({ reason: 'member_removed' }),
    });
    expect(await stream.next()).toBeNull();
  });

  it("another API process ends a removed member's stream at once (the change is announced in the stream)", async () => {
    const other = await build({ recheckIntervalMs: 3_600_000 });
    try {
      const otherUrl = `${await other.listen({ port: 0, host: '127.0.0.1' })}/v1/realtime`;
      const member = await newMember(rt);
      const stream = await open(bearer(member.token), otherUrl);
      await expectConnected(stream);
      // Removed through this app: the other one hears of it through the tenant's stream.
      const removed = await rt.inject({
        method: 'DELETE',
        url: `/v1/team/${member.userId}`,
        headers: bearer(ownerToken),
      });
      expect(removed.statusCode).toBe(204);
      expect((await stream.nextEvent())?.data).toMatchObject({ reason: 'member_removed' });
      expect(await stream.next()).toBeNull();
    } finally {
      await other.close();
    }
  });

  it("a logout through one API process ends that session's stream on another at once", async () => {
    const other = await build({ recheckIntervalMs: 3_600_000 });
    try {
      const otherUrl = `${await other.listen({ port: 0, host: '127.0.0.1' })}/v1/realtime`;
      const member = await newMember(rt);
      const login = await rt.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { tenant: slugA, email: member.email, password: PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      const { accessToken, refreshToken } = login.json() as { accessToken: string; refreshToken: string };
      const stream = await open(bearer(accessToken), otherUrl);
      await expectConnected(stream);
      // Logout is public (no principal): the route itself appends the tenant stream's control
      // entry, so the other process re-checks now, not at its (hour-long here) periodic check.
      const out = await rt.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken } });
      expect(out.statusCode).toBe(204);
      expect((await stream.nextEvent())?.data).toMatchObject({ reason: 'session_ended' });
      expect(await stream.next()).toBeNull();
      // The spent token again changes nothing and announces nothing, with the same answer.
      const before = await redis.xlen(`${keyA()}events`);
      const unknown = await rt.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        payload: { refreshToken },
      });
      expect(unknown.statusCode).toBe(204);
      expect(await redis.xlen(`${keyA()}events`)).toBe(before);
    } finally {
      await other.close();
    }
  });

  it('a credential taken away elsewhere (another process, the database) is found by the re-check', async () => {
    const member = await newMember(rt);
    const key = await newApiKey();
    const bystander = await newMember(rt);
    const memberStream = await open(bearer(member.token));
    const keyStream = await open({ 'x-api-key': key.key });
    const bystanderStream = await open(bearer(bystander.token));
    for (const s of [memberStream, keyStream, bystanderStream]) await expectConnected(s);
    // Not through this process's routes: nothing triggers a check but the re-check itself.
    await withTenant(db, seeded.a.tenantId, async (tx) => {
      await tx.membership.deleteMany({ where: { userId: member.userId } });
      await tx.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
    });
    await rt.realtime.revalidate();
    expect((await memberStream.nextEvent())?.data).toMatchObject({ reason: 'member_removed' });
    expect((await keyStream.nextEvent())?.data).toMatchObject({ reason: 'credential_revoked' });
    // The bystander's stream stays open and keeps receiving.
    const id = await publishRealtimeEvent(redis, keyA(), event(randomUUID()));
    expect((await bystanderStream.nextEvent())?.id).toBe(id);
  });

  it('the periodic re-check ends such a stream without being asked', async () => {
    const periodic = await build({ recheckIntervalMs: 50 });
    try {
      const periodicUrl = `${await periodic.listen({ port: 0, host: '127.0.0.1' })}/v1/realtime`;
      const member = await newMember(periodic);
      const stream = await open(bearer(member.token), periodicUrl);
      await expectConnected(stream);
      await withTenant(db, seeded.a.tenantId, (tx) =>
        tx.membership.deleteMany({ where: { userId: member.userId } }),
      );
      expect((await stream.nextEvent())?.data).toMatchObject({ reason: 'member_removed' });
    } finally {
      await periodic.close();
    }
  });

  it("a member's stream ends when its access token expires", async () => {
    const member = await newMember(rt);
    // Valid long enough to be admitted on a loaded machine; the stream then ends at its expiry.
    const token = await signAccessToken(
      new TextEncoder().encode(signingKey),
      {
        userId: member.userId,
        tenantId: seeded.a.tenantId,
        slug: slugA,
        sessionId: String(decodeJwt(member.token).sid),
      },
      5_000,
    );
    const stream = await open(bearer(token));
    await expectConnected(stream);
    expect((await stream.nextEvent())?.data).toMatchObject({ reason: 'token_expired' });
  });

  it('every open stream of the process reads through one Redis connection', async () => {
    const principals = [await newMember(rt), await newMember(rt), await newMember(rt)];
    const streams: Stream[] = [];
    for (const p of principals) for (let i = 0; i < 2; i++) streams.push(await open(bearer(p.token)));
    for (const s of streams) await expectConnected(s);
    expect(rt.realtime.stats()).toMatchObject({ readers: 1 });
    expect(rt.realtime.stats().streams).toBeGreaterThanOrEqual(6);
    // Redis's own view: one reader connection of this app for tenant A, whatever the stream count.
    const readers = async () =>
      String(await redis.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((line: string) => line.includes(`name=switchboard-api-realtime:${keyA()}events `)).length;
    // The first test's streams (the other app) have closed; their reader's socket goes with them.
    await eventually('one realtime reader connection', async () => (await readers()) === 1, 10_000);
    const id = await publishRealtimeEvent(redis, keyA(), event(randomUUID()));
    for (const s of streams) expect((await s.nextEvent())?.id).toBe(id);
    for (const s of streams) await s.close();
  });

  it('a principal may hold at most maxStreamsPerPrincipal streams; the next answers 429', async () => {
    const member = await newMember(rt);
    const first = await open(bearer(member.token));
    const second = await open(bearer(member.token));
    for (const s of [first, second]) await expectConnected(s);
    const third = await open(bearer(member.token));
    expect(third.status).toBe(429);
    expect(await third.json()).toEqual({
      error: { code: 'realtime_stream_limit', message: expect.stringContaining('at most 2') },
    });
    // Someone else is not affected; and once one stream is closed the member may open another.
    const other = await open(bearer((await newMember(rt)).token));
    await expectConnected(other);
    await first.close();
    await eventually(
      'a free stream place',
      async () => {
        const again = await openStream(url, bearer(member.token));
        opened.push(again);
        if (again.status === 200) return true;
        expect(again.status).toBe(429);
        await again.close();
        return false;
      },
      10_000,
    );
  });

  it('a client that does not read is dropped with a final event (and counted), while a reading client gets everything', async () => {
    // The earlier tests' streams are not read either: closed first, so only this test's two count.
    for (const stream of opened.splice(0)) await stream.close();
    await eventually('no stream open', () => rt.realtime.stats().streams === 0, 10_000);
    const slow = await newMember(rt);
    const fast = await newMember(rt);
    const reading = await open(bearer(fast.token));
    await expectConnected(reading);
    // The slow client: a raw HTTP request on a socket that stops reading after the headers.
    const port = new URL(url).port;
    const socket: Socket = connect(Number(port), '127.0.0.1');
    let received = '';
    let closed = false;
    let stopped = false;
    socket.on('close', () => {
      closed = true;
    });
    let after = '';
    socket.on('data', (chunk: Buffer) => {
      if (stopped) {
        after += chunk.toString('latin1');
        return;
      }
      received += chunk.toString('latin1');
      if (received.includes(': connected')) {
        stopped = true;
        socket.pause();
      }
    });
    socket.write(
      `GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${slow.token}\r\n\r\n`,
    );
    await eventually('the slow stream connected', () => received.includes(': connected'), 10_000);
    expect(received.startsWith('HTTP/1.1 200')).toBe(true);
    const before = await closedCount('slow_consumer');
    // Events until the slow stream is dropped: the socket buffers fill first, then 256 KiB in the
    // process. Bounded: 200 batches of 500 (~19 MB) is far more than loopback's buffers hold.
    const ids: string[] = [];
    const seen: string[] = [];
    let batches = 0;
    while ((await closedCount('slow_consumer')) === before) {
      expect(batches++).toBeLessThan(200);
      const pipeline = redis.pipeline();
      for (let i = 0; i < 500; i++) {
        const conversationId = randomUUID();
        ids.push(conversationId);
        pipeline.xadd(`${keyA()}events`, '*', REALTIME_EVENT_FIELD, JSON.stringify(event(conversationId)));
      }
      await pipeline.exec();
      // Let the reader deliver this batch before the next one is counted.
      const last = ids.at(-1);
      for (;;) {
        const conversationId = conversationOf(await reading.nextEvent());
        seen.push(conversationId);
        if (conversationId === last) break;
      }
    }
    expect(await closedCount('slow_consumer')).toBe(before + 1);
    // The reading client got every event, in order. The process holds no stream for the slow one,
    // only its response flushing what was buffered and the final event: nothing more is written.
    expect(seen).toEqual(ids);
    expect(rt.realtime.stats()).toMatchObject({ streams: 1, draining: 1 });
    socket.resume();
    await eventually('the slow socket closed', () => closed, 10_000);
    // Read to the end (HTTP/1.1 chunked): events, then the final event naming the reason, then the
    // last chunk, once.
    const marker = 'event: stream.closed\ndata: ';
    const at = after.indexOf(marker);
    expect(at).toBeGreaterThan(-1);
    expect(after.indexOf(marker, at + 1)).toBe(-1);
    const rest = after.slice(at + marker.length);
    const line = rest.slice(0, rest.indexOf('\n'));
    expect(JSON.parse(line)).toMatchObject({ type: 'stream.closed', reason: 'slow_consumer' });
    expect(rest.slice(line.length)).toBe('\n\n\r\n0\r\n\r\n');
    expect(rt.realtime.stats().draining).toBe(0);
    socket.destroy();
    const id = await publishRealtimeEvent(redis, keyA(), event(randomUUID()));
    expect((await reading.nextEvent())?.id).toBe(id);
  });
});

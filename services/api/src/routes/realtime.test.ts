import { randomUUID } from 'node:crypto';
import { publishRealtimeEvent } from '@switchboard/messaging/producer';
import { describe, expect, it } from 'vitest';
import { app, bearer, redis, seeded, setupApi, slugA, slugB, tokenFor } from '../testing/api-fixture.ts';

setupApi();

describe('realtime', () => {
  async function* events(url: string, token: string, lastEventId?: string) {
    const res = await fetch(url, {
      headers: { ...bearer(token), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (id && data) yield { id, event: JSON.parse(data) };
          else if (block.startsWith(': connected')) yield { id: 'connected', event: null };
          end = buffer.indexOf('\n\n');
        }
      }
    } finally {
      await reader.cancel();
    }
  }
  const event = (conversationId: string) => ({
    type: 'conversation.updated' as const,
    at: new Date().toISOString(),
    data: { conversationId },
  });

  it("streams only the caller's tenant and resumes after Last-Event-ID without losing events", async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address}/v1/realtime`;
    const token = await tokenFor('a', 'viewer');
    const keyA = `sb:${slugA}:`;
    const keyB = `sb:${slugB}:`;
    const stream = events(url, token);
    expect((await stream.next()).value?.id).toBe('connected');
    await publishRealtimeEvent(redis, keyB, event(seeded.b.conversationId));
    const firstId = await publishRealtimeEvent(redis, keyA, event(seeded.a.conversationId));
    const first = (await stream.next()).value!;
    expect(first).toEqual({
      id: firstId,
      event: expect.objectContaining({ data: { conversationId: seeded.a.conversationId } }),
    });
    await stream.return(undefined);
    // While disconnected, two more events; the reconnect asks for everything after the first.
    const missed = [randomUUID(), randomUUID()];
    for (const id of missed) await publishRealtimeEvent(redis, keyA, event(id));
    const resumed = events(url, token, firstId);
    expect((await resumed.next()).value?.id).toBe('connected');
    const got = [(await resumed.next()).value!, (await resumed.next()).value!];
    expect(got.map((g) => g.event.data.conversationId)).toEqual(missed);
    await resumed.return(undefined);
    const bad = await app.inject({
      method: 'GET',
      url: '/v1/realtime',
      headers: { ...bearer(token), 'last-event-id': 'nope' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

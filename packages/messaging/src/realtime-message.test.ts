// The message a `message.created` / `message.updated` realtime event may carry (contracts.ts):
// optional, bounded, media by reference; events without it still validate as before.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  REALTIME_MESSAGE_MAX_BODY_BYTES,
  type RealtimeMessage,
  realtimeEventSchema,
  realtimeMessage,
} from './contracts.ts';

const ids = { messageId: randomUUID(), conversationId: randomUUID(), sessionId: randomUUID() };
const at = '2026-12-07T13:00:00.000Z';

function message(body: string | null, extra: Partial<RealtimeMessage> = {}): RealtimeMessage {
  return {
    id: ids.messageId,
    conversationId: ids.conversationId,
    direction: 'inbound',
    status: 'delivered',
    failureReason: null,
    type: 'text',
    body,
    reaction: null,
    media: null,
    replyToMessageId: null,
    createdAt: at,
    ...extra,
  };
}

describe('the message a realtime event carries', () => {
  it('is optional: an event with ids only validates as before', () => {
    const { messageId, conversationId, sessionId } = ids;
    expect(
      realtimeEventSchema.parse({
        type: 'message.created',
        at,
        data: { messageId, conversationId, sessionId, direction: 'inbound' },
      }),
    ).toEqual({
      type: 'message.created',
      at,
      data: { messageId, conversationId, sessionId, direction: 'inbound' },
    });
    expect(
      realtimeEventSchema.safeParse({
        type: 'message.updated',
        at,
        data: { messageId, conversationId, status: 'read' },
      }).success,
    ).toBe(true);
  });

  it('validates in message.created and message.updated, media described by reference', () => {
    const { messageId, conversationId, sessionId } = ids;
    const document = message('the contract', {
      type: 'document',
      media: { mimeType: 'application/pdf', fileName: 'contract.pdf', sizeBytes: 2048, available: true },
    });
    const created = {
      type: 'message.created',
      at,
      data: { messageId, conversationId, sessionId, direction: 'inbound', message: document },
    };
    expect(realtimeEventSchema.parse(created)).toEqual(created);
    const updated = {
      type: 'message.updated',
      at,
      data: { messageId, conversationId, status: 'read', message: { ...document, status: 'read' } },
    };
    expect(realtimeEventSchema.parse(updated)).toEqual(updated);
    // Nothing beyond the contract's fields: no bytes, no provider references.
    const withBytes = { ...document, media: { ...document.media!, data: 'JVBERi0xLjQK' } };
    const refused = realtimeEventSchema.safeParse({
      ...created,
      data: { ...created.data, message: withBytes },
    });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]).toMatchObject({
      path: ['data', 'message', 'media'],
      code: 'unrecognized_keys',
    });
  });

  it('is left out when its body is over the bound, counted in UTF-8 bytes', () => {
    const fits = message('a'.repeat(REALTIME_MESSAGE_MAX_BODY_BYTES));
    expect(realtimeMessage(fits)).toBe(fits);
    expect(realtimeMessage(message(null))).toEqual(message(null));
    // 2 bytes per character: half as many characters already exceed it.
    const over = message('é'.repeat(REALTIME_MESSAGE_MAX_BODY_BYTES / 2 + 1));
    expect(realtimeMessage(over)).toBeUndefined();
    const { messageId, conversationId, sessionId } = ids;
    const refused = realtimeEventSchema.safeParse({
      type: 'message.created',
      at,
      data: { messageId, conversationId, sessionId, direction: 'inbound', message: over },
    });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['data', 'message', 'body']);
    expect(refused.error?.issues[0]?.message).toMatch(/at most 4096 bytes/);
  });
});

import type { IncomingMessage } from 'node:http';
import { outboundJobSchema, requestIdOf } from '@switchboard/messaging/producer';
import { describe, expect, it } from 'vitest';
import { requestIdFor } from './request-id.ts';

const withHeader = (value?: string | string[]) =>
  ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('requestIdFor', () => {
  it("keeps the Ingress's X-Request-Id when it is printable and bounded", () => {
    expect(requestIdFor(withHeader('abc'))).toBe('abc');
    expect(requestIdFor(withHeader('5f0c1e3b9d2a4c6e8f1a3b5c7d9e0f12'))).toBe(
      '5f0c1e3b9d2a4c6e8f1a3b5c7d9e0f12',
    );
    expect(requestIdFor(withHeader('x'.repeat(128)))).toBe('x'.repeat(128));
  });

  it('generates an id for a missing, empty, too long, spaced, control-character or repeated header', () => {
    for (const bad of [undefined, '', 'x'.repeat(129), 'a b', 'a\nlevel=error', 'é', ['a', 'b']]) {
      const id = requestIdFor(withHeader(bad));
      expect(id, JSON.stringify(bad)).toMatch(UUID);
    }
    expect(requestIdFor(withHeader())).not.toBe(requestIdFor(withHeader()));
  });
});

describe('the outbound job contract', () => {
  const job = { kind: 'send', tenantId: crypto.randomUUID(), messageId: crypto.randomUUID() };

  it('carries an optional, validated request id', () => {
    expect(outboundJobSchema.parse(job)).toEqual(job);
    expect(outboundJobSchema.parse({ ...job, requestId: 'abc' })).toEqual({ ...job, requestId: 'abc' });
    const refused = outboundJobSchema.safeParse({ ...job, requestId: 'a b' });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toMatch(/printable ASCII/);
    expect(requestIdOf({ ...job, requestId: 'abc' })).toBe('abc');
    expect(requestIdOf({ ...job, requestId: 'x'.repeat(129) })).toBeUndefined();
    expect(requestIdOf(null)).toBeUndefined();
  });
});

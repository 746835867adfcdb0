import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.ts';

describe('SseParser', () => {
  it('returns events split across chunks anywhere, with their ids and types', () => {
    const parser = new SseParser();
    const text =
      ': connected\n\nid: 1-0\nevent: message.created\ndata: {"a":1}\n\nid: 2-0\nevent: x\ndata: b\n\n';
    const out = [];
    for (let i = 0; i < text.length; i += 3) out.push(...parser.push(text.slice(i, i + 3)));
    expect(out).toEqual([
      { id: '1-0', event: 'message.created', data: '{"a":1}' },
      { id: '2-0', event: 'x', data: 'b' },
    ]);
  });

  it('joins data lines, accepts CRLF and CR, ignores comments, keeps the last id', () => {
    const parser = new SseParser();
    expect(parser.push('id: 5-1\r\ndata: one\r\ndata: two\r\n\r\n: keepalive\r\rdata:three\r')).toEqual([
      { id: '5-1', event: 'message', data: 'one\ntwo' },
    ]);
    // A CR at the end of a chunk may be half of a CRLF: the line ends when the next chunk comes.
    expect(parser.push('\r\n')).toEqual([{ id: '5-1', event: 'message', data: 'three' }]);
  });

  it('does not dispatch an event without data', () => {
    const parser = new SseParser();
    expect(parser.push('event: nothing\n\n')).toEqual([]);
    expect(parser.push('data: x\n\n')).toEqual([{ id: undefined, event: 'message', data: 'x' }]);
  });
});

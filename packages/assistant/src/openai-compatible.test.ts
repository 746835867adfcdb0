// The OpenAI-compatible adapter against a local server speaking the same wire format: whole and
// streamed answers with their usage, the bearer key, error bodies, 429 with Retry-After, timeouts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiCompatibleProvider, retryAfterMs } from './openai-compatible.ts';
import { ProviderError, ProviderRateLimitedError } from './provider.ts';
import { type ChatCompletionsServer, startChatCompletionsServer } from './testing/chat-completions-server.ts';

let server: ChatCompletionsServer;
let provider: OpenAiCompatibleProvider;
const messages = [{ role: 'user' as const, content: 'When do you open?' }];

beforeAll(async () => {
  server = await startChatCompletionsServer();
  provider = new OpenAiCompatibleProvider({
    baseUrl: server.baseUrl,
    apiKey: 'sk-test-key',
    timeoutMs: 2_000,
  });
});
afterAll(async () => {
  await server.close();
});

describe('OpenAiCompatibleProvider', () => {
  it('answers whole, with the bearer key, max_tokens and usage', async () => {
    server.script({ kind: 'answer', content: 'We open at nine.', promptTokens: 42, completionTokens: 7 });
    const answer = await provider.complete({ model: 'gpt-4o-mini', messages, maxTokens: 100 });
    expect(answer).toEqual({
      content: 'We open at nine.',
      model: 'gpt-4o-mini',
      usage: { promptTokens: 42, completionTokens: 7 },
      finishReason: 'stop',
    });
    const request = server.requests.at(-1);
    expect(request?.authorization).toBe('Bearer sk-test-key');
    expect(request?.body).toMatchObject({ model: 'gpt-4o-mini', messages, max_tokens: 100, stream: false });
  });

  it('streams the pieces in order and ends at [DONE] with the usage chunk', async () => {
    server.script({
      kind: 'stream',
      pieces: ['We ', 'open ', 'at nine.'],
      promptTokens: 30,
      completionTokens: 4,
    });
    const pieces: string[] = [];
    const answer = await provider.stream({ model: 'gpt-4o-mini', messages }, (piece) => pieces.push(piece));
    expect(pieces).toEqual(['We ', 'open ', 'at nine.']);
    expect(answer.content).toBe('We open at nine.');
    expect(answer.usage).toEqual({ promptTokens: 30, completionTokens: 4 });
    expect(answer.finishReason).toBe('stop');
    expect(server.requests.at(-1)?.body.stream).toBe(true);
  });

  it('turns a 429 into a typed error with Retry-After', async () => {
    server.script({
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: { message: 'Rate limit reached', type: 'requests' } },
    });
    const error = await provider.complete({ model: 'gpt-4o-mini', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderRateLimitedError);
    expect((error as ProviderRateLimitedError).retryAfterMs).toBe(7_000);
    expect((error as ProviderRateLimitedError).code).toBe('PROVIDER_RATE_LIMITED');
  });

  it("reports a provider's error body with its status, never the key", async () => {
    server.script({
      kind: 'status',
      status: 500,
      body: { error: { message: 'The server had an error', type: 'server_error' } },
    });
    const error = (await provider
      .complete({ model: 'gpt-4o-mini', messages })
      .catch((e: unknown) => e)) as ProviderError;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.code).toBe('PROVIDER_HTTP_ERROR');
    expect(error.status).toBe(500);
    expect(error.message).toContain('The server had an error');
    expect(error.message).not.toContain('sk-test-key');
  });

  it('refuses an answer without choices', async () => {
    server.script({ kind: 'status', status: 200, body: { choices: [] } });
    const error = (await provider
      .complete({ model: 'm', messages })
      .catch((e: unknown) => e)) as ProviderError;
    expect(error.code).toBe('PROVIDER_BAD_RESPONSE');
  });

  it('gives up on a server that never answers when the signal fires', async () => {
    server.script({ kind: 'hang' }, { kind: 'hang' });
    const before = server.requests.length;
    const controller = new AbortController();
    const pending = provider
      .complete({ model: 'gpt-4o-mini', messages, signal: controller.signal })
      .catch((e: unknown) => e);
    // Aborting once the server holds the request forces the timeout path without waiting on a clock.
    await expect.poll(() => server.requests.length).toBe(before + 1);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
    const error = (await pending) as ProviderError;
    expect(error.code).toBe('PROVIDER_TIMEOUT');
    const timed = new OpenAiCompatibleProvider({ baseUrl: server.baseUrl, timeoutMs: 200 });
    const late = (await timed.complete({ model: 'm', messages }).catch((e: unknown) => e)) as ProviderError;
    expect(late.code).toBe('PROVIDER_TIMEOUT');
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

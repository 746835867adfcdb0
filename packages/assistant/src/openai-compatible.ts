// The OpenAI-compatible chat-completions adapter: POST {baseUrl}/chat/completions with a bearer
// key, whole answers or Server-Sent Events (`data: {chunk}` lines ending with `data: [DONE]`).
import {
  type ChatCompletion,
  type ChatProvider,
  type ChatRequest,
  ProviderError,
  ProviderRateLimitedError,
} from './provider.ts';

/** Options of {@link OpenAiCompatibleProvider}. */
export interface OpenAiCompatibleProviderOptions {
  /** e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`; none for servers without keys (Ollama). */
  apiKey?: string;
  /** Per-request timeout when the request brings no signal of its own (default 30 s). */
  timeoutMs?: number;
  /** The fetch to use (Node's global fetch by default). */
  fetch?: typeof fetch;
}

/** Speaks the OpenAI chat-completions wire format. */
export class OpenAiCompatibleProvider implements ChatProvider {
  private readonly url: string;
  private readonly options: OpenAiCompatibleProviderOptions;

  constructor(options: OpenAiCompatibleProviderOptions) {
    this.options = options;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  async complete(request: ChatRequest): Promise<ChatCompletion> {
    const response = await this.post(request, false);
    const body = (await this.read(response, request)) as unknown;
    return completionOf(body);
  }

  async stream(request: ChatRequest, onDelta: (text: string) => void): Promise<ChatCompletion> {
    const response = await this.post(request, true);
    if (!response.body) throw new ProviderError('PROVIDER_BAD_RESPONSE', 'the stream has no body');
    const decoder = new TextDecoder();
    let buffer = '';
    let content = '';
    let model = request.model;
    let finishReason: string | null = null;
    let usage: ChatCompletion['usage'];
    let done = false;
    try {
      for await (const bytes of response.body) {
        buffer += decoder.decode(bytes as Uint8Array, { stream: true });
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf('\n');
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') {
            done = true;
            break;
          }
          const chunk = parseJson(data) as StreamChunk;
          if (chunk?.error) throw errorFromBody(200, chunk);
          if (typeof chunk?.model === 'string') model = chunk.model;
          const choice = chunk?.choices?.[0];
          const piece = choice?.delta?.content;
          if (typeof piece === 'string' && piece.length > 0) {
            content += piece;
            onDelta(piece);
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (chunk?.usage) usage = usageOf(chunk.usage);
        }
        if (done) break;
      }
    } catch (error) {
      throw this.failure(error, request);
    }
    if (!done) throw new ProviderError('PROVIDER_BAD_RESPONSE', 'the stream ended before [DONE]');
    return usage ? { content, model, usage, finishReason } : { content, model, finishReason };
  }

  private async post(request: ChatRequest, stream: boolean): Promise<Response> {
    const signal = request.signal ?? AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const body: Record<string, unknown> = { model: request.model, messages: request.messages, stream };
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    if (stream) body.stream_options = { include_usage: true };
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal,
      });
    } catch (error) {
      throw this.failure(error, request);
    }
    if (response.status === 429) {
      await response.body?.cancel().catch(() => undefined);
      throw new ProviderRateLimitedError(
        'the provider refused the call: too many requests (429)',
        retryAfterMs(response.headers.get('retry-after')),
      );
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw errorFromBody(response.status, parseJson(text));
    }
    return response;
  }

  private async read(response: Response, request: ChatRequest): Promise<unknown> {
    try {
      return parseJson(await response.text());
    } catch (error) {
      throw this.failure(error, request);
    }
  }

  private failure(error: unknown, _request: ChatRequest): ProviderError {
    if (error instanceof ProviderError) return error;
    const name = (error as Error | undefined)?.name;
    // A timeout signal fires TimeoutError; an abort by the caller (its own deadline, shutdown) AbortError.
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new ProviderError('PROVIDER_TIMEOUT', 'the provider did not answer in time', undefined, {
        cause: error,
      });
    }
    return new ProviderError(
      'PROVIDER_UNREACHABLE',
      `the provider could not be reached: ${name ?? 'error'}`,
      undefined,
      {
        cause: error,
      },
    );
  }
}

interface StreamChunk {
  model?: string;
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: unknown;
  error?: unknown;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function usageOf(raw: unknown): ChatCompletion['usage'] {
  const usage = raw as { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
  if (!Number.isInteger(usage?.prompt_tokens) || !Number.isInteger(usage?.completion_tokens))
    return undefined;
  return {
    promptTokens: usage?.prompt_tokens as number,
    completionTokens: usage?.completion_tokens as number,
  };
}

function completionOf(body: unknown): ChatCompletion {
  const parsed = body as
    | {
        model?: unknown;
        choices?: { message?: { content?: unknown }; finish_reason?: unknown }[];
        usage?: unknown;
      }
    | undefined;
  const choice = parsed?.choices?.[0];
  if (typeof choice?.message?.content !== 'string')
    throw new ProviderError('PROVIDER_BAD_RESPONSE', 'the answer has no choices[0].message.content');
  const usage = usageOf(parsed?.usage);
  const completion: ChatCompletion = {
    content: choice.message.content,
    model: typeof parsed?.model === 'string' ? parsed.model : '',
    finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
  };
  if (usage) completion.usage = usage;
  return completion;
}

/** The provider's error body (`{"error": {"message", "type", "code"}}`) as a ProviderError. */
function errorFromBody(status: number, body: unknown): ProviderError {
  const error = (body as { error?: { message?: unknown; type?: unknown } } | undefined)?.error;
  const detail = typeof error?.message === 'string' ? error.message.slice(0, 300) : 'no error message';
  const type = typeof error?.type === 'string' ? ` (${error.type.slice(0, 60)})` : '';
  return new ProviderError(
    'PROVIDER_HTTP_ERROR',
    `the provider answered ${status}${type}: ${detail}`,
    status,
  );
}

/** Retry-After as milliseconds: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

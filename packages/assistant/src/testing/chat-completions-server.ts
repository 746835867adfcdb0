// A local server that speaks the OpenAI chat-completions wire format (POST /v1/chat/completions,
// JSON or Server-Sent Events), for tests: each request takes the next scripted reply, so a test
// says exactly what the "model" answers, or that it fails, rate-limits or hangs.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with one request. */
export type ScriptedReply =
  | { kind: 'answer'; content: string; promptTokens?: number; completionTokens?: number; model?: string }
  | { kind: 'stream'; pieces: string[]; promptTokens?: number; completionTokens?: number }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Never answers (the client's timeout must end it); the socket is closed at `close()`. */
  | { kind: 'hang' };

/** A request the server received. */
export interface ReceivedChatRequest {
  authorization: string | undefined;
  body: {
    model: string;
    messages: { role: string; content: string }[];
    stream?: boolean;
    max_tokens?: number;
  };
}

/** A running stand-in: its base URL (`http://127.0.0.1:<port>/v1`), the requests it got. */
export interface ChatCompletionsServer {
  baseUrl: string;
  requests: ReceivedChatRequest[];
  /** Queues replies for the next requests, in order. */
  script(...replies: ScriptedReply[]): void;
  /** The reply when nothing is queued (default: a 500 saying nothing was scripted). */
  fallback: (request: ReceivedChatRequest) => ScriptedReply;
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 and a free port. */
export async function startChatCompletionsServer(): Promise<ChatCompletionsServer> {
  const queue: ScriptedReply[] = [];
  const hanging = new Set<ServerResponse>();
  const state: ChatCompletionsServer = {
    baseUrl: '',
    requests: [],
    script: (...replies) => queue.push(...replies),
    fallback: () => ({
      kind: 'status',
      status: 500,
      body: { error: { message: 'nothing scripted', type: 'server_error' } },
    }),
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server: Server = createServer((request, response) => {
    void handle(request, response).catch(() => response.destroy());
  });
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      json(response, 404, {
        error: { message: `no route ${request.method} ${request.url}`, type: 'invalid_request_error' },
      });
      return;
    }
    let body: ReceivedChatRequest['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      json(response, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error' } });
      return;
    }
    const received = { authorization: request.headers.authorization, body };
    state.requests.push(received);
    const reply = queue.shift() ?? state.fallback(received);
    const id = `chatcmpl-${state.requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    switch (reply.kind) {
      case 'hang':
        hanging.add(response);
        response.on('close', () => hanging.delete(response));
        return;
      case 'status':
        json(response, reply.status, reply.body ?? {}, reply.headers);
        return;
      case 'answer': {
        const content = reply.content;
        json(response, 200, {
          id,
          object: 'chat.completion',
          created,
          model: reply.model ?? body.model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: usageOf(reply.promptTokens, reply.completionTokens),
        });
        return;
      }
      case 'stream': {
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const event = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`);
        event({
          id,
          object: 'chat.completion.chunk',
          created,
          model: body.model,
          choices: [{ index: 0, delta: { role: 'assistant' } }],
        });
        for (const piece of reply.pieces)
          event({
            id,
            object: 'chat.completion.chunk',
            created,
            model: body.model,
            choices: [{ index: 0, delta: { content: piece } }],
          });
        event({
          id,
          object: 'chat.completion.chunk',
          created,
          model: body.model,
          choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        });
        if (reply.promptTokens !== undefined)
          event({
            id,
            object: 'chat.completion.chunk',
            created,
            model: body.model,
            choices: [],
            usage: usageOf(reply.promptTokens, reply.completionTokens),
          });
        response.end('data: [DONE]\n\n');
        return;
      }
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}

function usageOf(prompt = 10, completion = 5) {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

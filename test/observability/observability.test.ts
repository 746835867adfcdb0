import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Stack, type StackTenant, startStack } from '@switchboard/devstack';
import { ensureTools } from '@switchboard/envtest';
import { QUEUE_NAMES, queuePrefix } from '@switchboard/messaging/producer';
import { metricDefinitions } from '@switchboard/telemetry';
import {
  adminDatabaseUrl,
  type JaegerSpan,
  type JaegerTrace,
  type RunningJaeger,
  redisOptions,
  startJaeger,
  uniquePrefix,
} from '@switchboard/testing';
import { freePort, startProcess } from '@switchboard/testing/servers';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { eventually } from '../../packages/sessions/src/testing/worker-fleet.ts';
import {
  type RecordingServer,
  startRecordingServer,
} from '../../packages/telemetry/src/testing/recording-server.ts';

// One customer message through both processes, followed in a real Jaeger (built from its Go
// module, packages/testing/src/jaeger-binary.ts) that the API and worker export to over OTLP/HTTP:
// the send from POST /v1/messages through BullMQ to the worker's Cloud API call, and a message in
// from Meta's webhook through the store and the outbox to the tenant's webhook receiver. Then the
// same message in the metrics the two processes serve, and the chart's alerts and dashboards
// checked against those metrics (promtool from Debian's prometheus package checks the rules).

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '../..');
const CHART = join(REPO_ROOT, 'charts/switchboard');
const RULES_FILE = join(CHART, 'rules/switchboard.rules.yaml');
const RULES_TESTS_FILE = join(CHART, 'rules/switchboard.rules.test.yaml');
const RUNBOOK_URL = /^https:\/\/switchboard\.dev\/docs\/runbooks\/([A-Za-z]+\.md)$/;

const CUSTOMER = '15555550188';
let jaeger: RunningJaeger;
// Sentry's ingest endpoint: a local server recording the envelopes the SDK posts.
let sentry: RecordingServer;
let stack: Stack;
let tenant: StackTenant;
let token: string;
let receiver: Server;
let receiverUrl: string;
const received: string[] = [];
const receivedTraceparents: string[] = [];
const logs: Array<{ source: string; line: string }> = [];

async function api<T>(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(`${tenant.apiUrl}${path}`, {
    ...init,
    headers: {
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...init.headers,
    },
  });
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

function serviceOf(trace: JaegerTrace, span: JaegerSpan): string {
  return trace.processes[span.processID]?.serviceName ?? '';
}

/**
 * The chain of span names from `span` up to the trace's root, as `service: name`; undefined while
 * a parent is missing (its process has not exported it yet: a parent ends after its children).
 */
function ancestry(trace: JaegerTrace, span: JaegerSpan): string[] | undefined {
  const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
  const chain: string[] = [];
  let current: JaegerSpan | undefined = span;
  while (current) {
    chain.unshift(`${serviceOf(trace, current)}: ${current.operationName}`);
    const parent: { spanID: string } | undefined = current.references.find((r) => r.refType === 'CHILD_OF');
    if (!parent) return chain;
    current = byId.get(parent.spanID);
  }
  return undefined;
}

/** Polls Jaeger until the trace `traceId` has a span `find` accepts, with its whole ancestry. */
async function findInTrace(
  what: string,
  traceId: string,
  find: (trace: JaegerTrace) => JaegerSpan | undefined,
): Promise<{ trace: JaegerTrace; span: JaegerSpan }> {
  let found: { trace: JaegerTrace; span: JaegerSpan } | undefined;
  let seen = '';
  await eventually(
    what,
    async () => {
      const trace = await jaeger.trace(traceId);
      if (!trace) return false;
      seen = trace.spans.map((s) => `${serviceOf(trace, s)}: ${s.operationName}`).join('\n  ');
      const span = find(trace);
      if (span && ancestry(trace, span)) found = { trace, span };
      return found !== undefined;
    },
    60_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; spans of ${traceId}:\n  ${seen}`);
  });
  return found!;
}

/** Polls Jaeger until a trace satisfies `find` (spans arrive in batches from two processes). */
async function findTrace(
  what: string,
  service: string,
  find: (trace: JaegerTrace) => JaegerSpan | undefined,
): Promise<{ trace: JaegerTrace; span: JaegerSpan }> {
  let found: { trace: JaegerTrace; span: JaegerSpan } | undefined;
  let seen: string[] = [];
  await eventually(
    `${what} (${logs.length} log lines so far)`,
    async () => {
      seen = [];
      for (const summary of await jaeger.traces(service)) {
        const trace = await jaeger.trace(summary.traceID);
        if (trace)
          seen.push(
            trace.spans
              .map(
                (s) =>
                  `${serviceOf(trace, s)}: ${s.operationName} ${s.spanID}<-${s.references.map((r) => r.spanID).join(',')}`,
              )
              .join('\n  '),
          );
        const span = trace && find(trace);
        if (trace && span && ancestry(trace, span)) {
          found = { trace, span };
          return true;
        }
      }
      return false;
    },
    60_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; traces seen:\n${seen.join('\n---\n')}`);
  });
  return found!;
}

beforeAll(async () => {
  jaeger = await startJaeger();
  sentry = await startRecordingServer();
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      received.push(body);
      receivedTraceparents.push(String(request.headers.traceparent ?? ''));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const { host, port } = redisOptions();
  stack = await startStack({
    tenants: [
      {
        slug: uniquePrefix('trace').slice(4).toLowerCase(),
        admin: { email: 'sre@trace.test', password: 'correct horse battery' },
        cloudApi: {},
      },
    ],
    postgresAdminUrl: adminDatabaseUrl(),
    redis: { host, port },
    statuses: { mode: 'manual' },
    onLog: (source, line) => logs.push({ source, line }),
    processEnv: {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      // Export each batch at once rather than every 5 s (the SDK's default), so the test waits less.
      OTEL_BSP_SCHEDULE_DELAY: '100',
      SENTRY_DSN: `http://public@127.0.0.1:${sentry.port}/9`,
      // The receiver below is on loopback, which deliveries refuse unless allow-listed.
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      // Three sends a minute: the rate-limit test's fourth send waits for the session's window (a
      // wait the metrics and the pipelines dashboard then show).
      OUTBOUND_SESSION_PER_MINUTE: '3',
    },
  });
  tenant = stack.tenants[0]!;
  const login = await api<{ accessToken: string }>('/v1/auth/login', {
    method: 'POST',
    body: JSON.stringify({ email: tenant.admin.email, password: tenant.admin.password }),
  });
  token = login.body.accessToken;
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await jaeger?.stop();
  await sentry?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
}, 60_000);

describe('one trace per customer message, across the API and the worker', () => {
  it('follows a message in from Meta through the store and the outbox to the webhook receiver', async () => {
    const subscription = await api<{ id: string }>('/v1/webhooks', {
      method: 'POST',
      body: JSON.stringify({ url: receiverUrl, events: ['message.received'] }),
    });
    expect(subscription.status).toBe(201);
    const inbound = await fetch(`${tenant.cloudApi!.emulator.url}/_emulator/customer/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: CUSTOMER, name: 'Ana', text: 'where is my order?' }),
    });
    expect(inbound.status).toBe(200);
    await eventually('the webhook receiver is called', () => received.length > 0, 30_000);

    // The delivery's own POST is a CLIENT span under the delivery job's span.
    const { trace, span: post } = await findTrace(
      'the webhook delivery in the inbound trace',
      'switchboard-api',
      (t) =>
        t.spans.find(
          (s) =>
            serviceOf(t, s) === 'switchboard-worker' &&
            tag(s, 'span.kind') === 'client' &&
            tag(s, 'url.full') === receiverUrl,
        ),
    );
    expect(post.operationName).toBe('POST');
    expect(tag(post, 'http.request.method')).toBe('POST');
    expect(tag(post, 'http.response.status_code')).toBe(204);
    expect(tag(post, 'server.address')).toBe('127.0.0.1');
    const postChain = ancestry(trace, post)!;
    expect(postChain.at(-1)).toBe('switchboard-worker: POST');
    // The receiver got the POST span's context, so a traced receiver continues the same trace.
    expect(receivedTraceparents).toContain(`00-${trace.traceID}-${post.spanID}-01`);
    const span = trace.spans.find(
      (s) => s.spanID === post.references.find((r) => r.refType === 'CHILD_OF')?.spanID,
    )!;
    const chain = ancestry(trace, span)!;
    // The API's server span is the root; each hop below is the child of the one above.
    expect(chain[0]).toMatch(/^switchboard-api: POST/);
    const hops = [
      /^switchboard-api: add cloud-api-inbound/,
      /^switchboard-worker: process cloud-api-inbound/,
      /^switchboard-worker: process whatsapp\.message$/,
      // The relay adds a pass's webhook jobs with one addBulk for many rows; each job carries its
      // own row's publish span as its parent, so the delivery is that span's child.
      /^switchboard-worker: publish outbox\.webhook\.enqueue$/,
    ];
    let at = 0;
    for (const hop of hops) {
      const index = chain.findIndex((name, i) => i >= at && hop.test(name));
      expect(index, `${hop} in ${JSON.stringify(chain, null, 1)}`).toBeGreaterThanOrEqual(at);
      at = index + 1;
    }
    expect(chain.at(-1)).toMatch(/^switchboard-worker: process webhook-deliveries/);
    expect(tag(span, 'span.kind')).toBe('consumer');
    const consumer = trace.spans.find((s) => s.operationName.startsWith('process whatsapp.message'))!;
    expect(tag(consumer, 'span.kind')).toBe('consumer');
    expect(tag(consumer, 'messaging.operation.type')).toBe('process');
    const producer = trace.spans.find((s) => s.operationName.startsWith('add cloud-api-inbound'))!;
    expect(tag(producer, 'span.kind')).toBe('producer');
    expect(tag(producer, 'messaging.system')).toBe('bullmq');
    expect(tag(producer, 'messaging.destination.name')).toBe('cloud-api-inbound');
  }, 120_000);

  it('follows a send from POST /v1/messages through BullMQ to the Cloud API call, with trace_id in the logs', async () => {
    const conversations = await api<{ items: Array<{ id: string }> }>('/v1/conversations');
    const conversationId = conversations.body.items[0]!.id;
    const send = await api<{ id: string }>('/v1/messages', {
      method: 'POST',
      // The Ingress's request id: the worker's log lines for the job carry it.
      headers: { 'idempotency-key': 'trace-1', 'x-request-id': 'abc' },
      body: JSON.stringify({ conversationId, text: 'it ships today' }),
    });
    expect(send.status).toBe(201);
    // The answer names the request by the Ingress's id.
    expect(send.headers.get('x-request-id')).toBe('abc');

    const emulatorUrl = tenant.cloudApi!.emulator.url;
    const { trace, span } = await findTrace('the Cloud API call in the send trace', 'switchboard-api', (t) =>
      t.spans.find(
        (s) =>
          serviceOf(t, s) === 'switchboard-worker' &&
          tag(s, 'span.kind') === 'client' &&
          String(tag(s, 'url.full') ?? '').startsWith(emulatorUrl) &&
          String(tag(s, 'url.full') ?? '').endsWith('/messages'),
      ),
    );
    const chain = ancestry(trace, span)!;
    expect(chain[0]).toMatch(/^switchboard-api: POST/);
    // Fastify's span (and the server span's http.route) name the route pattern.
    expect(trace.spans.some((s) => tag(s, 'http.route') === '/v1/messages')).toBe(true);
    const addIndex = chain.findIndex((name) => /^switchboard-api: add outbound-/.test(name));
    const processIndex = chain.findIndex((name) => /^switchboard-worker: process outbound-/.test(name));
    expect(addIndex, JSON.stringify(chain)).toBeGreaterThan(0);
    expect(processIndex).toBe(addIndex + 1);
    expect(chain.at(-1)).toMatch(/^switchboard-worker: POST/);
    // The API process's log lines written inside the request carry its trace id.
    const traced = logs.filter((l) => l.source.endsWith('-api') && l.line.includes(trace.traceID));
    expect(traced.length).toBeGreaterThan(0);
    expect(JSON.parse(traced[0]!.line.slice(traced[0]!.line.indexOf('{')))).toMatchObject({
      trace_id: trace.traceID,
      span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    // The request id crossed the queue: the API logged the request under it, and the worker's
    // line for the job (written when the job's run ends) carries it too.
    const lineWith = (source: string, requestId: string) =>
      logs
        .filter((l) => l.source.endsWith(source) && l.line.includes('"request_id"'))
        .map((l) => JSON.parse(l.line.slice(l.line.indexOf('{'))) as Record<string, unknown>)
        .find((line) => line.request_id === requestId);
    expect(lineWith('-api', 'abc')).toBeDefined();
    await eventually(
      'the worker logs the job with its request id',
      () => lineWith('-worker', 'abc') !== undefined,
      30_000,
    );
    expect(lineWith('-worker', 'abc')).toMatchObject({ msg: 'outbound job processed', outcome: 'sent' });

    // Meta's status for the send comes back in a trace of its own (Meta, like the emulator, sends
    // no traceparent): it is processed in the send's trace, linked to the trace it arrived in, and
    // the message.updated it publishes (the outbox's effect) follows it there.
    const sentMessages = (await (await fetch(`${emulatorUrl}/_emulator/sent?to=${CUSTOMER}`)).json()) as {
      messages: Array<{ id: string; request: { biz_opaque_callback_data?: string } }>;
    };
    const wamid = sentMessages.messages.find((m) => m.request.biz_opaque_callback_data === send.body.id)!.id;
    const delivered = await fetch(`${emulatorUrl}/_emulator/messages/${encodeURIComponent(wamid)}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'delivered' }),
    });
    expect(delivered.status).toBe(200);
    const { trace: withStatus, span: publish } = await findInTrace(
      "the status's effect in the send trace",
      trace.traceID,
      (t) => {
        const status = t.spans.find((s) => s.operationName === 'process whatsapp.status');
        return t.spans.find(
          (s) =>
            s.operationName === 'publish outbox.realtime.event' &&
            s.references.some((r) => r.refType === 'CHILD_OF' && r.spanID === status?.spanID),
        );
      },
    );
    const statusChain = ancestry(withStatus, publish)!;
    expect(statusChain[0]).toMatch(/^switchboard-api: POST/);
    const sendProcess = statusChain.findIndex((name) => /^switchboard-worker: process outbound-/.test(name));
    expect(sendProcess, JSON.stringify(statusChain)).toBeGreaterThan(0);
    expect(statusChain.slice(sendProcess + 1)).toEqual([
      'switchboard-worker: process whatsapp.status',
      'switchboard-worker: publish outbox.realtime.event',
    ]);
    const status = withStatus.spans.find((s) => s.operationName === 'process whatsapp.status')!;
    expect(tag(status, 'span.kind')).toBe('consumer');
    expect(tag(status, 'switchboard.message.id')).toBe(send.body.id);
    expect(tag(status, 'switchboard.message.status')).toBe('delivered');
    // The link: the trace Meta's POST started, from the API's server span to the receipt.
    const link = status.references.find((r) => r.refType === 'FOLLOWS_FROM');
    expect(link?.traceID).toBeDefined();
    expect(link!.traceID).not.toBe(trace.traceID);
    const { trace: arrival, span: receipt } = await findInTrace(
      'the trace the status arrived in',
      link!.traceID,
      (t) => t.spans.find((s) => s.spanID === link!.spanID),
    );
    const arrivalChain = ancestry(arrival, receipt)!;
    expect(arrivalChain[0]).toMatch(/^switchboard-api: POST/);
    expect(arrival.spans.some((s) => tag(s, 'http.route') === '/webhooks/cloud-api')).toBe(true);
    expect(arrivalChain.at(-1)).toBe('switchboard-worker: process whatsapp.receipt');
  }, 180_000);
});

/** The metric families a scrape declares (`# TYPE name kind`). */
function declaredMetrics(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** One sample's value, or undefined when the scrape has no such series. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** The metric names a PromQL expression reads (histogram series mapped to their family). */
function metricsIn(expr: string): string[] {
  const names = [
    ...expr.matchAll(
      /\b((?:switchboard|nodejs|process|controller_runtime|workqueue|leader_election)_[a-z0-9_]+)\b/g,
    ),
  ].map((m) => m[1]!);
  return [...new Set(names.map((name) => name.replace(/_(bucket|count|sum)$/, '')))];
}

type AlertRule = { alert: string; expr: string; annotations: { runbook_url: string; summary: string } };

describe('a send that fails for good', () => {
  it('is a dead letter, counted and reported to Sentry with its queue, scrubbed of the number and text', async () => {
    const emulator = tenant.cloudApi!.emulator.url;
    // Graph error 200 (permission denied): unrecoverable, the job fails at once.
    const injected = await fetch(`${emulator}/_emulator/failures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 200, count: 1 }),
    });
    expect(injected.status).toBeLessThan(300);
    const conversations = await api<{ items: Array<{ id: string }> }>('/v1/conversations');
    const conversationId = conversations.body.items[0]!.id;
    const text = `call me at +${CUSTOMER} about the refund`;
    const send = await api<{ id: string }>('/v1/messages', {
      method: 'POST',
      headers: { 'idempotency-key': 'trace-dead-letter' },
      body: JSON.stringify({ conversationId, text }),
    });
    expect(send.status).toBe(201);
    const event = await sentry.waitFor(
      (request) =>
        request.path.startsWith('/api/9/envelope/') && request.body.includes('outbound job failed'),
    );
    const [, , payload] = event.body.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(payload).toMatchObject({
      tags: {
        queue: expect.stringMatching(/^outbound-/),
        what: 'outbound job failed',
        service: 'switchboard-worker',
      },
    });
    expect(JSON.stringify(payload)).toContain(send.body.id);
    const everything = sentry.requests.map((request) => request.body).join('\n');
    expect(everything).not.toContain(CUSTOMER);
    expect(everything).not.toContain('about the refund');
  }, 120_000);
});

describe('a scheduled message', () => {
  it("is sent when due with the request id of the request that scheduled it on the worker's lines", async () => {
    const conversations = await api<{ items: Array<{ id: string }> }>('/v1/conversations');
    const conversationId = conversations.body.items[0]!.id;
    const scheduled = await api<{ id: string }>('/v1/scheduled-messages', {
      method: 'POST',
      headers: { 'x-request-id': 'sched-abc' },
      body: JSON.stringify({
        conversationId,
        content: { type: 'text', text: 'your parcel is out for delivery' },
        // A few seconds ahead: the API refuses a time already past when it checks.
        sendAt: new Date(Date.now() + 3_000).toISOString(),
      }),
    });
    expect(scheduled.status).toBe(201);
    expect(scheduled.headers.get('x-request-id')).toBe('sched-abc');
    const workerLine = () =>
      logs
        .filter((l) => l.source.endsWith('-worker') && l.line.includes('"request_id":"sched-abc"'))
        .map((l) => JSON.parse(l.line.slice(l.line.indexOf('{'))) as Record<string, unknown>)
        .find((line) => line.msg === 'outbound job processed');
    await eventually('the worker logs the scheduled send with its request id', () => !!workerLine(), 60_000);
    expect(workerLine()).toMatchObject({ request_id: 'sched-abc', outcome: 'sent' });
    const row = await api<{ status: string; messageId: string }>(
      `/v1/scheduled-messages/${scheduled.body.id}`,
    );
    expect(row.body.status).toBe('sent');
  }, 120_000);
});

describe("a send over the session's rate limit", () => {
  it('waits for a slot, and the wait is observed', async () => {
    const conversations = await api<{ items: Array<{ id: string }> }>('/v1/conversations');
    const conversationId = conversations.body.items[0]!.id;
    const sentSoFar = async () =>
      sample(
        await (await fetch(`http://127.0.0.1:${tenant.workerMetricsPort}/metrics`)).text(),
        'switchboard_outbound_sends_total',
        { channel: 'cloud-api', result: 'sent' },
      ) ?? 0;
    const before = await sentSoFar();
    // The precondition, forced: the session's window empty (the earlier tests' sends may or may
    // not still be in it), then four sends at once against three a minute, so exactly the fourth
    // waits, until the first one's slot leaves the window.
    const redis = new Redis(redisOptions());
    try {
      const keys = await redis.keys(`${tenant.keyPrefix}ratelimit:*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    for (const n of [1, 2, 3, 4]) {
      const send = await api<{ id: string }>('/v1/messages', {
        method: 'POST',
        headers: { 'idempotency-key': `trace-rate-limited-${n}` },
        body: JSON.stringify({ conversationId, text: `one more thing (${n})` }),
      });
      expect(send.status).toBe(201);
    }
    await eventually(
      'the four sends sent, the last after its wait',
      async () => (await sentSoFar()) === before + 4,
      90_000,
    );
  }, 120_000);
});

describe('a Meta payload the worker cannot process', () => {
  it('fails its cloud-api-inbound job, reported to Sentry with its queue, scrubbed of the number and text', async () => {
    // A job an API of another version could have written: a field this worker does not know,
    // named by the customer's number, so the error message quotes it.
    const queue = new Queue(QUEUE_NAMES.cloudApiInbound, {
      connection: redisOptions(),
      prefix: queuePrefix(tenant.keyPrefix),
    });
    try {
      await queue.add(
        'inbound',
        {
          tenantId: tenant.tenantId,
          receivedAt: new Date().toISOString(),
          payload: { text: 'about the refund' },
          [`+${CUSTOMER}`]: true,
        },
        { jobId: 'observability-malformed' },
      );
    } finally {
      await queue.close();
    }
    const event = await sentry.waitFor(
      (request) =>
        request.path.startsWith('/api/9/envelope/') && request.body.includes('cloud-api inbound job failed'),
    );
    const [, , payload] = event.body.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(payload).toMatchObject({
      tags: {
        queue: 'cloud-api-inbound',
        jobId: 'observability-malformed',
        what: 'cloud-api inbound job failed',
        service: 'switchboard-worker',
      },
    });
    expect(JSON.stringify(payload)).toContain('is malformed');
    expect(JSON.stringify(payload)).toContain('[phone]');
    const everything = sentry.requests.map((request) => request.body).join('\n');
    expect(everything).not.toContain(CUSTOMER);
    expect(everything).not.toContain('about the refund');
  }, 120_000);
});

describe('metrics, alerts and dashboards of the same message', () => {
  let api: string;
  let worker: string;
  let known: Set<string>;

  beforeAll(async () => {
    api = await (await fetch(`http://127.0.0.1:${tenant.apiMetricsPort}/metrics`)).text();
    worker = await (await fetch(`http://127.0.0.1:${tenant.workerMetricsPort}/metrics`)).text();
    // The operator's metrics come from its own process (operator/src/runtime, tested there).
    const operator = Object.entries(metricDefinitions)
      .filter(([key]) => key.startsWith('operator'))
      .map(([, definition]) => definition.name);
    known = new Set([...declaredMetrics(api), ...declaredMetrics(worker), ...operator]);
  });

  it('counts the message through the worker and serves Node.js metrics under their stock names', () => {
    const tenantLabel = { tenant: tenant.slug };
    expect(
      sample(worker, 'switchboard_inbound_events_total', {
        ...tenantLabel,
        kind: 'message',
        result: 'stored',
      }),
    ).toBe(1);
    expect(
      sample(worker, 'switchboard_outbound_sends_total', {
        ...tenantLabel,
        channel: 'cloud-api',
        result: 'sent',
      }),
    ).toBe(6);
    expect(sample(worker, 'switchboard_outbound_send_duration_seconds_count', { result: 'sent' })).toBe(6);
    expect(
      sample(worker, 'switchboard_webhook_deliveries_total', { result: 'delivered' }),
    ).toBeGreaterThanOrEqual(1);
    // The send that failed for good (Graph error 200, SEND_FAILED): counted and dead-lettered.
    expect(
      sample(worker, 'switchboard_outbound_sends_total', { result: 'failed', error_class: 'SEND_FAILED' }),
    ).toBe(1);
    expect(sample(worker, 'switchboard_outbound_dead_letters_total', tenantLabel)).toBe(1);
    // The rate-limit test's fourth send waited for the session's window (three a minute here), once,
    // for at most a minute.
    expect(
      sample(worker, 'switchboard_outbound_rate_limit_wait_seconds_count', {
        ...tenantLabel,
        channel: 'cloud-api',
      }),
    ).toBe(1);
    const waited = sample(worker, 'switchboard_outbound_rate_limit_wait_seconds_sum', tenantLabel)!;
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThanOrEqual(60);
    // The session's state, read at scrape time: the worker holds it, connected.
    expect(
      sample(worker, 'switchboard_sessions_state_sessions', {
        ...tenantLabel,
        channel: 'cloud-api',
        state: 'connected',
      }),
    ).toBe(1);
    expect(
      sample(worker, 'switchboard_sessions_state_sessions', {
        ...tenantLabel,
        channel: 'cloud-api',
        state: 'disconnected',
      }),
    ).toBe(0);
    // Read at scrape time: the queues and the outbox are drained.
    expect(sample(worker, 'switchboard_queue_depth_jobs', { queue: 'outbound', state: 'waiting' })).toBe(0);
    expect(sample(worker, 'switchboard_queue_oldest_job_age_seconds', { queue: 'webhook-deliveries' })).toBe(
      0,
    );
    expect(worker).toMatch(/^switchboard_outbox_backlog_items\{.*\} \d+$/m);
    for (const text of [api, worker]) {
      expect(text).toMatch(/^process_cpu_user_seconds_total\{/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{/m);
      expect(text).not.toContain('switchboard_process_');
    }
  });

  it('alerts only on metrics that exist, each with its runbook, and promtool accepts the rules', async () => {
    const rules = parse(await readFile(RULES_FILE, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
    const alerts = rules.groups.flatMap((group) => group.rules);
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const rule of alerts) {
      const names = metricsIn(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(known.has(name), `${rule.alert}: ${name}`).toBe(true);
      const runbook = RUNBOOK_URL.exec(rule.annotations.runbook_url)?.[1];
      expect(runbook, rule.alert).toBe(`${rule.alert}.md`);
      const text = await readFile(join(REPO_ROOT, 'docs/runbooks', runbook!), 'utf8');
      for (const section of ['## Symptom', '## Impact', '## Diagnosis', '## Mitigation'])
        expect(text, `${runbook} ${section}`).toContain(section);
    }
    const { stdout } = await execFileAsync('promtool', ['check', 'rules', RULES_FILE]);
    expect(stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
    // The unit tests beside the rules: every alert fires for the tenant in trouble only.
    const tests = parse(await readFile(RULES_TESTS_FILE, 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ alertname: string }> }>;
    };
    const tested = new Set(tests.tests.flatMap((t) => t.alert_rule_test.map((r) => r.alertname)));
    expect([...tested].sort()).toEqual(alerts.map((rule) => rule.alert).sort());
    const unit = await execFileAsync('promtool', ['test', 'rules', RULES_TESTS_FILE]);
    expect(unit.stdout).toContain('SUCCESS');
  });

  it('draws dashboards from metrics that exist, shipped by the chart for the Grafana sidecar', async () => {
    const files = (await readdir(join(CHART, 'dashboards'))).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(['api.json', 'pipelines.json', 'platform.json', 'sessions.json']);
    for (const file of files) {
      const dashboard = JSON.parse(await readFile(join(CHART, 'dashboards', file), 'utf8')) as {
        uid: string;
        panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      };
      expect(dashboard.uid).toMatch(/^switchboard-/);
      for (const panel of dashboard.panels) {
        expect(panel.targets.length, `${file} ${panel.title}`).toBeGreaterThan(0);
        for (const target of panel.targets)
          for (const name of metricsIn(target.expr))
            expect(known.has(name), `${file} ${panel.title}: ${name}`).toBe(true);
      }
    }
    const home = await mkdtemp(join(tmpdir(), 'switchboard-helm-'));
    try {
      const tools = await ensureTools();
      const env = {
        PATH: process.env.PATH ?? '',
        HELM_CACHE_HOME: home,
        HELM_CONFIG_HOME: home,
        HELM_DATA_HOME: home,
      };
      const render = async (...set: string[]) =>
        parseAllDocuments(
          (
            await execFileAsync(
              tools.helm,
              ['template', 'sb', CHART, '--namespace', 'sb-system', ...set.flatMap((s) => ['--set', s])],
              {
                env,
                maxBuffer: 64 * 1024 * 1024,
              },
            )
          ).stdout,
        )
          .map(
            (d) =>
              d.toJS() as {
                kind?: string;
                metadata?: { labels?: Record<string, string> };
                data?: Record<string, string>;
                spec?: unknown;
              },
          )
          .filter((d) => d?.kind);
      const off = await render();
      expect(off.filter((d) => d.kind === 'PrometheusRule' || d.metadata?.labels?.grafana_dashboard)).toEqual(
        [],
      );
      const on = await render('dashboards.enabled=true', 'prometheusRule.enabled=true');
      const maps = on.filter((d) => d.kind === 'ConfigMap' && d.metadata?.labels?.grafana_dashboard === '1');
      expect(maps.flatMap((m) => Object.keys(m.data ?? {})).sort()).toEqual(files);
      const rule = on.find((d) => d.kind === 'PrometheusRule');
      expect(rule?.spec).toEqual(parse(await readFile(RULES_FILE, 'utf8')));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
    expect(existsSync(join(REPO_ROOT, 'docs/observability.md'))).toBe(true);
  }, 120_000);
});

describe("the dashboards' queries in a real Prometheus scraping both processes", () => {
  it('parses every panel query, and the pipelines, API and sessions panels show data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-prometheus-'));
    const port = await freePort();
    await writeFile(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: switchboard',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${tenant.apiMetricsPort}', '127.0.0.1:${tenant.workerMetricsPort}']`,
        '',
      ].join('\n'),
    );
    // Debian's prometheus package, the one promtool comes from.
    const prometheus = startProcess({
      name: 'prometheus',
      command: 'prometheus',
      args: [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      env: { PATH: process.env.PATH ?? '' },
      tempDirs: [dir],
    });
    const query = async (promql: string) => {
      const response = await fetch(
        `http://127.0.0.1:${port}/api/v1/query?${new URLSearchParams({ query: promql })}`,
      ).catch(() => undefined);
      if (!response) return { status: 'unreachable', result: [] as unknown[] };
      // Prometheus answers 503 "Service Unavailable" (plain text) until its TSDB has started.
      if (response.status === 503) return { status: 'starting', error: await response.text(), result: [] };
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { result: unknown[] };
      };
      return { status: body.status, error: body.error, result: body.data?.result ?? [] };
    };
    try {
      // Each of the two targets scraped up at least three times, so every rate() has two samples
      // of each series even when a series first appeared in the first scrape. (`count(...) == 2`
      // keeps the result only when both targets qualify.)
      await eventually(
        'Prometheus to scrape the API and the worker three times each',
        async () =>
          (await query('count(count_over_time(up[1m]) >= 3) == 2')).result.length === 1 &&
          (await query('sum(up)')).result.some((r) => (r as { value: [number, string] }).value[1] === '2'),
        60_000,
      );
      const withData = new Set<string>();
      for (const file of ['api.json', 'pipelines.json', 'platform.json', 'sessions.json']) {
        const dashboard = JSON.parse(await readFile(join(CHART, 'dashboards', file), 'utf8')) as {
          panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
        };
        for (const panel of dashboard.panels) {
          for (const target of panel.targets) {
            const answer = await query(target.expr.replaceAll('$tenant', '.*'));
            expect(answer.status, `${file} ${panel.title}: ${answer.error}`).toBe('success');
            if (answer.result.length > 0) withData.add(`${file}: ${panel.title}`);
          }
        }
      }
      // What one message in, one out, one dead letter and a webhook delivery leave behind.
      for (const panel of [
        'api.json: Requests by route',
        'api.json: Duration p95 by route',
        'api.json: Answers by status',
        'api.json: Event loop lag',
        'api.json: Resident memory',
        'pipelines.json: Inbound events by result',
        'pipelines.json: Sends by result',
        'pipelines.json: Send errors by class',
        'pipelines.json: Queue depth',
        'pipelines.json: Oldest waiting job',
        'pipelines.json: Outbox backlog',
        'pipelines.json: Dead letters',
        'pipelines.json: Webhook deliveries by result',
        'pipelines.json: Rate-limit waits',
        'sessions.json: Sessions held',
        'sessions.json: Session states',
      ])
        expect(withData, panel).toContain(panel);
    } finally {
      await prometheus.stop();
    }
  }, 120_000);
});

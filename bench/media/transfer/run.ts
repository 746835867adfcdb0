// Media through the API and out of the worker: memory and time per transfer of a large file, each
// against a raw stream pipe of the same bytes in the same run, each case in a fresh process:
//
// - api-upload: `POST /v1/messages/media` (the real buildApp: auth, multipart, the type check on
//   the head, SHA-256, LocalMediaStorage's temp file + rename, the message row and its queue job),
//   the client streaming the multipart body from the file on disk; raw-upload: a bare node:http
//   server piping the request into a file, the client streaming the same file.
// - api-download: `GET /v1/messages/:id/media` of a stored file, the client reading it to the end;
//   raw-download: a bare node:http server piping the file into the response.
// - worker-send: the worker's outbound read (resolveOutboundContent: the stored file named, opened
//   when the upload starts) and CloudApiChannel's upload (multipart streamed on node:http) to a
//   stand-in of Graph's `/media` that reads and discards; raw-send: the file piped into a plain
//   POST to the same stand-in.
//
// Server and client share the case's process (one socket on loopback), in every case alike.
//
//   node bench/media/transfer/run.ts [--mib 64] [--repeats 3]
//
// Starts its own Postgres and Redis on loopback and a migrated tenant database with a member, a
// conversation and the file stored as an outbound message's media.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CloudApiChannel } from '@switchboard/channels';
import { createDb, ensureTenant, withTenant } from '@switchboard/db';
import { LocalMediaStorage, resolveOutboundContent } from '@switchboard/messaging';
import { createLogger } from '@switchboard/telemetry';
import { Redis } from 'ioredis';
import { sampleMemory } from '../../../packages/messaging/src/media/testing.ts';
import { buildApp } from '../../../services/api/src/app.ts';
import { signAccessToken } from '../../../services/api/src/plugins/auth.ts';
import {
  createBenchDatabase,
  integerOptions,
  killServersOnSigint,
  median,
  startPostgres,
  startRedis,
} from '../../support/services.ts';

const KINDS = [
  'raw-upload',
  'api-upload',
  'raw-download',
  'api-download',
  'raw-send',
  'worker-send',
] as const;
type Kind = (typeof KINDS)[number];

interface CaseInput {
  kind: Kind;
  sampling: 'rss' | 'live';
  appUrl: string;
  redis: { host: string; port: number };
  slug: string;
  jwtKey: string;
  token: string;
  conversationId: string;
  dir: string;
  store: string;
  /** The warm-up file and the measured one: path on disk, stored key, message id. */
  warm: { path: string; key: string; messageId: string };
  big: { path: string; key: string; messageId: string };
}

interface CaseResult {
  kind: Kind;
  sampling: 'rss' | 'live';
  ms: number;
  cpuMs: number;
  bytes: number;
  peakGrowth: number;
}

const PDF_TYPE = 'application/pdf';

/** Resolves with the server's answer (status and body text). */
function answer(res: IncomingMessage): Promise<{ status: number; text: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= 64 * 1024) chunks.push(chunk);
    });
    res.once('end', () =>
      resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), bytes }),
    );
    res.once('error', reject);
  });
}

/** A request whose body streams from `body`; resolves with the answer. */
async function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array> | undefined,
): Promise<{ status: number; text: string; bytes: number }> {
  const req = request({ host: '127.0.0.1', port, method, path, headers });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  if (body) await pipeline(Readable.from(body, { objectMode: false }), req);
  else req.end();
  return await answer(await answered);
}

async function* multipart(
  boundary: string,
  conversationId: string,
  file: string,
): AsyncGenerator<Uint8Array> {
  yield Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${conversationId}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\nContent-Type: ${PDF_TYPE}\r\n\r\n`,
  );
  yield* createReadStream(file);
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

/** One case in this process: sets up its servers, warms up, measures one transfer, prints JSON. */
async function runCase(input: CaseInput): Promise<void> {
  const close: (() => Promise<unknown>)[] = [];
  let transfer: (file: CaseInput['big']) => Promise<number>;
  const listen = async (server: ReturnType<typeof createServer>) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close.push(() => new Promise((resolve) => server.close(resolve)));
    return (server.address() as AddressInfo).port;
  };
  if (input.kind === 'api-upload' || input.kind === 'api-download') {
    const db = createDb({ databaseUrl: input.appUrl, maxConnections: 4 });
    const redis = new Redis({ ...input.redis, maxRetriesPerRequest: 1 });
    // buildApp ensures the tenant row in a transaction: on a loaded machine its start can time
    // out (P2028); tried up to three times.
    const build = () =>
      buildApp({
        db,
        redis,
        tenant: { slug: input.slug, displayName: 'Bench' },
        jwtSigningKey: input.jwtKey,
        accessTokenTtlMs: 3_600_000,
        rateLimitPerMinute: 1_000_000,
        inboxDir: null,
        mediaStorage: new LocalMediaStorage(input.store),
        mediaMaxBytes: 1024 * 1024 * 1024,
        logger: createLogger({ name: 'bench-media', level: 'error', destination: process.stderr }),
      });
    const app = await build().catch(build).catch(build);
    const port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
    close.push(async () => {
      await app.close();
      redis.disconnect();
      await db.$disconnect();
    });
    const auth = { authorization: `Bearer ${input.token}` };
    transfer =
      input.kind === 'api-upload'
        ? async (file) => {
            const boundary = `b${randomUUID()}`;
            const res = await send(
              port,
              'POST',
              '/v1/messages/media',
              {
                ...auth,
                'idempotency-key': randomUUID(),
                'content-type': `multipart/form-data; boundary=${boundary}`,
              },
              multipart(boundary, input.conversationId, file.path),
            );
            if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${res.text}`);
            return Number((JSON.parse(res.text) as { media: { sizeBytes: number } }).media.sizeBytes);
          }
        : async (file) => {
            const res = await send(port, 'GET', `/v1/messages/${file.messageId}/media`, auth, undefined);
            if (res.status !== 200) throw new Error(`download answered ${res.status}`);
            return res.bytes;
          };
  } else if (input.kind === 'raw-upload') {
    let n = 0;
    const port = await listen(
      createServer((req, res) => {
        void pipeline(req, createWriteStream(join(input.dir, `raw-${++n}`))).then(() => res.end('{}'));
      }),
    );
    transfer = async (file) => {
      const res = await send(port, 'POST', '/', {}, createReadStream(file.path));
      if (res.status !== 200) throw new Error(`raw upload answered ${res.status}`);
      return (await stat(file.path)).size;
    };
  } else if (input.kind === 'raw-download') {
    const port = await listen(
      createServer((req, res) => {
        void pipeline(createReadStream(req.url === '/big' ? input.big.path : input.warm.path), res);
      }),
    );
    transfer = async (file) =>
      (await send(port, 'GET', file === input.big ? '/big' : '/warm', {}, undefined)).bytes;
  } else {
    // Graph's stand-in: the phone number lookup, /media read to the end and discarded, the send.
    let uploaded = 0;
    const port = await listen(
      createServer(async (req, res) => {
        const json = (body: unknown) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.method === 'GET') return json({ id: '1', display_phone_number: '+55 11 4000-0000' });
        let bytes = 0;
        for await (const chunk of req as AsyncIterable<Buffer>) bytes += chunk.length;
        if (req.url?.endsWith('/messages'))
          return json({
            messaging_product: 'whatsapp',
            contacts: [{ input: '5511988880000', wa_id: '5511988880000' }],
            messages: [{ id: `wamid.${randomUUID()}` }],
          });
        uploaded = bytes;
        return json({ id: '4490709327384033' });
      }),
    );
    if (input.kind === 'raw-send') {
      transfer = async (file) => {
        const res = await send(port, 'POST', '/v23.0/1/media', {}, createReadStream(file.path));
        if (res.status !== 200) throw new Error(`raw send answered ${res.status}`);
        return uploaded;
      };
    } else {
      const channel = new CloudApiChannel({
        sessionId: 'bench-media',
        phoneNumberId: '1',
        accessToken: 'bench',
        baseUrl: `http://127.0.0.1:${port}`,
        epoch: 1n,
        readFence: async () => 1n,
      });
      await channel.connect();
      const storage = new LocalMediaStorage(input.store);
      transfer = async (file) => {
        const content = await resolveOutboundContent(
          {
            type: 'document',
            body: null,
            reaction: null,
            replyToProviderMessageId: null,
            template: null,
            mediaStorageKey: file.key,
            mediaMimeType: PDF_TYPE,
            mediaFileName: 'big.pdf',
          },
          storage,
        );
        await channel.send({ to: '5511988880000', content: content! });
        return uploaded;
      };
    }
  }

  await transfer(input.warm);
  let result: CaseResult;
  if (input.sampling === 'rss') {
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);
    const start = performance.now();
    const cpu = process.cpuUsage();
    const bytes = await transfer(input.big);
    const used = process.cpuUsage(cpu);
    const ms = performance.now() - start;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss());
    result = {
      kind: input.kind,
      sampling: 'rss',
      ms,
      cpuMs: (used.user + used.system) / 1000,
      bytes,
      peakGrowth: peak - baseline,
    };
  } else {
    const sampler = sampleMemory(200);
    const start = performance.now();
    const bytes = await transfer(input.big);
    const ms = performance.now() - start;
    const memory = sampler.stop();
    result = {
      kind: input.kind,
      sampling: 'live',
      ms,
      cpuMs: Number.NaN,
      bytes,
      peakGrowth: memory.peakLive - memory.baselineLive,
    };
  }
  for (const fn of close.reverse()) await fn();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function spawnCase(input: CaseInput): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [new URL(import.meta.url).pathname, '--case', JSON.stringify(input)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`case ${input.kind}/${input.sampling} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as CaseResult);
    });
  });
}

async function main(): Promise<void> {
  const { mib: MIB, repeats: REPEATS } = integerOptions({ mib: 64, repeats: 3 });
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  killServersOnSigint();
  const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
  const dir = await mkdtemp(join(tmpdir(), 'bench-media-transfer-'));
  try {
    const urls = await createBenchDatabase(postgres);
    const db = createDb({ databaseUrl: urls.appUrl, maxConnections: 2 });
    const slug = 'bench';
    const tenantId = await ensureTenant(db, { slug, displayName: 'Bench' });
    const store = join(dir, 'store');
    // The files: a PDF head, then random bytes.
    const files = { warm: join(dir, 'warm.pdf'), big: join(dir, 'big.pdf') };
    await writeFile(files.warm, Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(256 * 1024)]));
    await pipeline(
      (async function* () {
        yield Buffer.from('%PDF-1.7\n');
        for (let left = MIB * 1024 * 1024 - 9; left > 0; left -= 1024 * 1024)
          yield randomBytes(Math.min(left, 1024 * 1024));
      })(),
      createWriteStream(files.big),
    );
    const seeded = await withTenant(db, tenantId, async (tx) => {
      const user = await tx.user.create({
        data: { tenantId, email: 'agent@bench.test', displayName: 'Agent', passwordHash: 'none' },
      });
      await tx.membership.create({ data: { tenantId, userId: user.id, role: 'agent' } });
      // The member's signed-in session: an access token names one (its id is the token's sid).
      await tx.authSession.create({
        data: { id: user.id, tenantId, userId: user.id, browser: 'bench', os: 'bench', ip: '127.0.0.1' },
      });
      const session = await tx.session.create({ data: { tenantId, name: 'main', channel: 'baileys' } });
      const contact = await tx.contact.create({ data: { tenantId, pushName: 'Customer' } });
      await tx.contactIdentity.create({
        data: { tenantId, contactId: contact.id, kind: 'pn', value: '5511988880000' },
      });
      const conversation = await tx.conversation.create({
        data: { tenantId, sessionId: session.id, contactId: contact.id },
      });
      const stored = async (path: string, name: string) => {
        const key = `tenants/${tenantId}/outbound/${name}`;
        await mkdir(dirname(join(store, key)), { recursive: true });
        await copyFile(path, join(store, key));
        const message = await tx.message.create({
          data: {
            tenantId,
            sessionId: session.id,
            conversationId: conversation.id,
            direction: 'outbound',
            status: 'sent',
            type: 'document',
            mediaStorageKey: key,
            mediaMimeType: PDF_TYPE,
            mediaSizeBytes: BigInt((await stat(path)).size),
            mediaFileName: name,
          },
        });
        return { path, key, messageId: message.id };
      };
      return {
        userId: user.id,
        conversationId: conversation.id,
        warm: await stored(files.warm, 'warm.pdf'),
        big: await stored(files.big, 'big.pdf'),
      };
    });
    const jwtKey = randomBytes(32).toString('hex');
    const token = await signAccessToken(
      new TextEncoder().encode(jwtKey),
      { userId: seeded.userId, tenantId, slug, sessionId: seeded.userId },
      3_600_000,
    );

    const results: CaseResult[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      // Pairs (raw, then ours) keep their order; the pairs rotate per repeat.
      const pairs = [0, 2, 4].map((i) => [KINDS[i]!, KINDS[i + 1]!]);
      const order = pairs.flatMap((_, i) => pairs[(i + repeat) % pairs.length]!);
      for (const sampling of ['rss', 'live'] as const) {
        for (const kind of order) {
          const caseDir = await mkdtemp(join(dir, `${kind}-`));
          const result = await spawnCase({
            kind,
            sampling,
            appUrl: urls.appUrl,
            redis: { host: redisServer.host, port: redisServer.port },
            slug,
            jwtKey,
            token,
            conversationId: seeded.conversationId,
            dir: caseDir,
            store,
            warm: seeded.warm,
            big: seeded.big,
          });
          if (result.bytes < MIB * 1024 * 1024) throw new Error(`${kind} moved ${result.bytes} bytes`);
          results.push(result);
          progress(
            `repeat ${repeat + 1}/${REPEATS} ${kind} (${sampling}): ${result.ms.toFixed(0)} ms, +${(result.peakGrowth / 2 ** 20).toFixed(1)} MiB`,
          );
          await rm(caseDir, { recursive: true, force: true });
        }
      }
    }
    const pick = (kind: string, sampling: string) =>
      results.filter((r) => r.kind === kind && r.sampling === sampling);
    const rows = KINDS.map((kind) => {
      const timed = pick(kind, 'rss');
      return {
        kind,
        ms: median(timed.map((r) => r.ms)),
        cpuMs: median(timed.map((r) => r.cpuMs)),
        peakRssGrowthMiB: median(timed.map((r) => r.peakGrowth)) / 2 ** 20,
        liveGrowthMiB: median(pick(kind, 'live').map((r) => r.peakGrowth)) / 2 ** 20,
        maxLiveGrowthMiB: Math.max(...pick(kind, 'live').map((r) => r.peakGrowth)) / 2 ** 20,
      };
    });
    process.stdout.write(
      `\n${MIB} MiB file, median of ${REPEATS} (each case in a fresh process)\n\n` +
        '| case | wall ms | MiB/s | CPU ms | CPU vs its raw pipe | peak RSS growth | held after GC: median / max |\n' +
        '|---|---:|---:|---:|---:|---:|---:|\n',
    );
    for (const [i, r] of rows.entries()) {
      const raw = rows[i - (i % 2)]!;
      process.stdout.write(
        `| ${r.kind} | ${r.ms.toFixed(0)} | ${(MIB / (r.ms / 1000)).toFixed(1)} | ${r.cpuMs.toFixed(0)} | ${(r.cpuMs / raw.cpuMs).toFixed(2)}x | ${r.peakRssGrowthMiB.toFixed(1)} MiB | ${r.liveGrowthMiB.toFixed(1)} / ${r.maxLiveGrowthMiB.toFixed(1)} MiB |\n`,
      );
    }
    await writeFile(
      new URL('./results.json', import.meta.url),
      `${JSON.stringify({ mib: MIB, repeats: REPEATS, rows, runs: results }, null, 2)}\n`,
    );
    await db.$disconnect();
  } finally {
    await rm(dir, { recursive: true, force: true });
    await Promise.allSettled([postgres.stop(), redisServer.stop()]);
  }
}

const at = process.argv.indexOf('--case');
if (at >= 0) await runCase(JSON.parse(process.argv[at + 1] ?? '') as CaseInput);
else await main();

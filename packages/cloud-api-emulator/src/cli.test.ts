import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers loosely.
type Loose = any;

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const run = promisify(execFile);
let serve: ChildProcess;
let url = '';
let receiver: Server;
const bodies: Loose[] = [];
let dir = '';

async function cli(...args: string[]): Promise<Loose> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--emulator', url]);
  return JSON.parse(stdout);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emulator-cli-'));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webhook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  serve = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--token',
      'cli-token',
      '--app-secret',
      's',
      '--webhook-url',
      webhook,
      '--phone-number-id',
      '111',
      '--manual-statuses',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  url = await new Promise<string>((resolve) => {
    createInterface({ input: serve.stdout! }).once('line', (line) => resolve(JSON.parse(line).url));
  });
});
afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
  }
  receiver?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cli', () => {
  it('plays the customer: text and media in, sent listed, marked read, failures injected', async () => {
    const text = await cli('send-text', '--from', '5511933334444', '--text', 'Olá', '--name', 'Carla');
    expect(text).toMatchObject({ id: expect.stringMatching(/^wamid\./), delivery: { delivered: true } });
    const file = join(dir, 'nota.pdf');
    await writeFile(file, 'pdf-bytes');
    const media = await cli(
      'send-media',
      '--from',
      '5511933334444',
      '--type',
      'document',
      '--file',
      file,
      '--mime',
      'application/pdf',
    );
    expect(media.delivery.delivered).toBe(true);
    const inbound = bodies.map((b) => b.entry[0].changes[0].value.messages[0]);
    expect(inbound[0]).toMatchObject({ id: text.id, type: 'text', text: { body: 'Olá' } });
    expect(inbound[1]).toMatchObject({
      type: 'document',
      document: { filename: 'nota.pdf', mime_type: 'application/pdf' },
    });

    // The business answers through the Graph route; the CLI lists it and marks it read.
    const sendResponse = await fetch(`${url}/v23.0/111/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer cli-token', 'content-type': 'application/json' },
      body: JSON.stringify({
        messaging_product: 'whatsapp',
        to: '5511933334444',
        text: { body: 'Oi Carla' },
      }),
    });
    const id = ((await sendResponse.json()) as Loose).messages[0].id;
    const listed = await cli('sent', '--to', '5511933334444');
    expect(listed.messages).toEqual([expect.objectContaining({ id, to: '5511933334444', statuses: [] })]);
    await cli('read', '--id', id);
    expect((await cli('sent', '--to', '5511933334444')).messages[0].statuses).toEqual(['read']);
    expect(bodies.at(-1).entry[0].changes[0].value.statuses[0]).toMatchObject({ id, status: 'read' });

    expect(await cli('fail', '--code', '130429', '--count', '1')).toEqual({ pending: 1 });
    const failed = await fetch(`${url}/v23.0/111/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer cli-token', 'content-type': 'application/json' },
      body: JSON.stringify({ messaging_product: 'whatsapp', to: '5511933334444', text: { body: 'x' } }),
    });
    expect(((await failed.json()) as Loose).error.code).toBe(130429);
  });

  it('exits non-zero naming a missing option', async () => {
    await expect(
      run(process.execPath, [CLI, 'send-text', '--emulator', url, '--from', '5511933334444']),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--text is required'),
    });
  });
});

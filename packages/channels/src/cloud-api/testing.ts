/**
 * Test-only: the Cloud API emulator run as a child process through its CLI (so this package needs
 * no build-time dependency on it), and a webhook receiver that checks X-Hub-Signature-256 over the
 * raw bytes the way the tenant API must. Not exported from the package index.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../cloud-api-emulator/src/cli.ts', import.meta.url));

/** JSON as the control API answers it; tests read it loosely. */
// biome-ignore lint/suspicious/noExplicitAny: test-only view of arbitrary JSON answers.
export type LooseJson = any;

/** A running emulator process. */
export interface EmulatorProcess {
  url: string;
  /** Calls the control API; rejects on a non-2xx answer. */
  control<T = LooseJson>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** Starts `cli.ts serve` and waits for the URL it prints. */
export async function startEmulatorProcess(options: {
  token: string;
  appSecret: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  webhookUrl?: string;
  manualStatuses?: boolean;
}): Promise<EmulatorProcess> {
  const args = [
    CLI,
    'serve',
    '--token',
    options.token,
    '--app-secret',
    options.appSecret,
    '--phone-number-id',
    options.phoneNumberId,
    '--display-phone-number',
    options.displayPhoneNumber,
    '--retry-attempts',
    '3',
    '--retry-base-ms',
    '10',
    ...(options.webhookUrl ? ['--webhook-url', options.webhookUrl] : []),
    ...(options.manualStatuses ? ['--manual-statuses'] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
  });
  return {
    url,
    async control(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const json = (await response.json()) as LooseJson;
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
      return json;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A receiver like the tenant API's: 401 on a bad signature, else hands the parsed body on. */
export class SignedWebhookReceiver {
  /** Payloads whose signature matched, in arrival order. */
  readonly accepted: unknown[] = [];
  /** Deliveries refused for their signature. */
  rejected = 0;
  url = '';
  readonly #server: Server;

  readonly appSecret: string;
  readonly onPayload: (payload: unknown) => void;

  /** `onPayload` runs for every accepted delivery before the 200 goes out. */
  constructor(appSecret: string, onPayload: (payload: unknown) => void = () => {}) {
    this.appSecret = appSecret;
    this.onPayload = onPayload;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const expected = Buffer.from(
          `sha256=${createHmac('sha256', this.appSecret).update(raw).digest('hex')}`,
        );
        const got = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''));
        if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
          this.rejected++;
          res.writeHead(401).end();
          return;
        }
        const payload = JSON.parse(raw.toString('utf8')) as unknown;
        this.accepted.push(payload);
        try {
          this.onPayload(payload);
        } finally {
          res.writeHead(200).end();
        }
      });
    });
  }

  /** Listens on loopback. */
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/webhooks/meta`;
  }

  /** Stops listening. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

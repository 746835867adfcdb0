import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { type ServiceProcess, startProcess } from './processes.ts';
import { type EnsureVaultBinaryOptions, ensureVaultBinary } from './vault-binary.ts';

/** An answer of Vault's HTTP API. */
export interface VaultResponse {
  status: number;
  /** The parsed JSON body, or undefined for an empty one (204). */
  body: unknown;
}

/** A running Vault dev server on loopback. */
export interface RunningVault {
  /** `http://127.0.0.1:<port>`. */
  address: string;
  /** The root token (a dev server's; the server holds nothing that outlives it). */
  rootToken: string;
  pid: number;
  /** Calls Vault's HTTP API (`/v1/<path>`) with the root token, or `token` when given. */
  request(method: string, path: string, body?: unknown, token?: string): Promise<VaultResponse>;
  /** Like `request`, but throws unless the answer is 2xx; returns the body. */
  requestOk(method: string, path: string, body?: unknown, token?: string): Promise<unknown>;
  /** Mounts a KV version 2 engine at `mount` (dev servers already have one at `secret/`). */
  enableKv2(mount: string): Promise<void>;
  /** Writes a new version of the KV v2 entry `<mount>/<path>`. */
  putKv2(mount: string, path: string, data: Record<string, unknown>): Promise<void>;
  /** The last lines the server printed. */
  output(): string;
  stop(): Promise<void>;
}

/** Options for {@link startVault}. */
export interface StartVaultOptions extends EnsureVaultBinaryOptions {
  /** How long to wait for the server to answer /v1/sys/health (default 60 s). */
  readyTimeoutMs?: number;
}

/**
 * Starts `vault server -dev` on a free loopback port: in memory, unsealed, a KV v2 engine at
 * `secret/`, the given root token. The binary comes from {@link ensureVaultBinary} (built from
 * the Go module on first use). The process is tracked like every test server: stopped by
 * `stop()`, killed on exit and on SIGINT/SIGTERM.
 */
export async function startVault(options: StartVaultOptions = {}): Promise<RunningVault> {
  const binary = await ensureVaultBinary(options);
  const port = await freePort();
  const home = await mkdtemp(join(tmpdir(), 'switchboard-vault-'));
  const rootToken = `root-${randomBytes(12).toString('hex')}`;
  const address = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = startProcess({
    name: 'vault',
    command: binary.path,
    args: [
      'server',
      '-dev',
      `-dev-root-token-id=${rootToken}`,
      `-dev-listen-address=127.0.0.1:${port}`,
      // Otherwise the dev server writes its token to ~/.vault-token.
      '-dev-no-store-token',
    ],
    // Nothing from the runner's environment (a VAULT_ADDR or VAULT_TOKEN of the developer's).
    env: { PATH: process.env.PATH ?? '', HOME: home },
    tempDirs: [home],
  });

  const request = async (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<VaultResponse> => {
    const response = await fetch(`${address}/v1/${path}`, {
      method,
      headers: {
        'x-vault-token': token ?? rootToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  const requestOk = async (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<unknown> => {
    const answer = await request(method, path, body, token);
    if (answer.status < 200 || answer.status > 299) {
      throw new Error(
        `vault ${method} /v1/${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
    }
    return answer.body;
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      await service.stop();
      throw new Error(`vault exited with ${service.child.exitCode} while starting:\n${service.output()}`);
    }
    // Healthy, and the dev server's KV v2 engine at secret/ past its first upgrade.
    const healthy = await request('GET', 'sys/health').then(
      async (answer) => answer.status === 200 && (await request('GET', 'secret/config')).status === 200,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`vault did not become healthy at ${address}:\n${service.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    address,
    rootToken,
    pid: service.pid,
    request,
    requestOk,
    async enableKv2(mount) {
      await requestOk('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } });
      // A new KV v2 mount answers "upgrading from non-versioned to versioned data" for a moment;
      // its config endpoint answers 200 once it takes requests.
      const until = Date.now() + 30_000;
      while ((await request('GET', `${mount}/config`)).status !== 200) {
        if (Date.now() > until) throw new Error(`the KV v2 mount ${mount} did not become ready`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async putKv2(mount, path, data) {
      await requestOk('POST', `${mount}/data/${path}`, { data });
    },
    output: () => service.output(),
    stop: () => service.stop(),
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { type ControlPlaneBinaries, ensureControlPlaneBinaries } from './binaries.ts';
import { generateCertificates } from './certs.ts';
import { EnvtestError } from './errors.ts';
import { tail } from './exec.ts';
import { kubeRequest } from './http.ts';
import type { EnvtestEnv } from './paths.ts';

/** The API server's /version answer. */
export interface KubernetesVersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

/** Options for startControlPlane. */
export interface StartControlPlaneOptions {
  /** Which binaries to run; defaults to ensureControlPlaneBinaries() (assets, cache, or a build). */
  binaries?: ControlPlaneBinaries;
  /** Environment for finding binaries; defaults to process.env. */
  env?: EnvtestEnv;
  /** Parent of the control plane's temporary directory; defaults to the OS temp dir. */
  tmpDir?: string;
  /** How long etcd plus kube-apiserver may take to become ready; defaults to 60 s. */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`; later flags win. */
  extraApiServerFlags?: string[];
}

/** A running etcd + kube-apiserver pair and an admin KubeConfig for it. */
export interface ControlPlane {
  /** Admin (system:masters) credentials for the API server. */
  kubeConfig: KubeConfig;
  /** The same credentials as a kubeconfig file, for kubectl and helm. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** The PEM CA that signed the serving certificate, for clients built by hand. */
  caCertificate: string;
  /** What the running API server reports at /version. */
  version: KubernetesVersionInfo;
  /** http://127.0.0.1:<port> */
  etcdUrl: string;
  /** The temporary directory holding data, certificates and logs; removed by stop(). */
  dir: string;
  /** Process ids, so tests can prove that stop() leaves nothing running. */
  pids: { etcd: number; kubeApiserver: number };
  /** Stops kube-apiserver, then etcd, then removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

// A child process whose output goes straight to a log file (no pipes for the parent to drain),
// spawned attached so that killing the test runner's process group kills it too.
class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitCode: number | null | undefined;

  constructor(name: string, binary: string, args: string[], logPath: string) {
    this.name = name;
    this.logPath = logPath;
    const log = openSync(logPath, 'a');
    try {
      this.child = spawn(binary, args, { stdio: ['ignore', log, log], detached: false });
    } finally {
      closeSync(log);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve();
      });
      this.child.once('error', () => {
        this.exitCode = -1;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  async logTail(): Promise<string> {
    return tail(await readFile(this.logPath, 'utf8').catch(() => ''), 3000);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    // The grace timer is cancelled once the process exits: a pending timer would keep the
    // caller's event loop (vitest's main process) alive for the whole grace period.
    const grace = new AbortController();
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      sleep(graceMs, true, { signal: grace.signal }).catch(() => false),
    ]);
    grace.abort();
    if (timedOut) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

class PortTakenError extends Error {}

async function waitUntil(
  what: string,
  process: ManagedProcess,
  deadline: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    if (!process.running) {
      const log = await process.logTail();
      // Ports are picked by binding port 0 and releasing it; another process can take one in between.
      if (log.includes('address already in use')) throw new PortTakenError(log);
      throw new EnvtestError(
        'START_FAILED',
        `${process.name} exited (code ${process.exitCode}) before ${what}`,
        {
          output: log,
        },
      );
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new EnvtestError('START_FAILED', `${process.name} did not become ${what} in time`, {
        output: await process.logTail(),
      });
    }
    await sleep(100);
  }
}

function buildKubeConfig(server: string, caPem: string, cert: string, key: string): KubeConfig {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'envtest', server, caData: b64(caPem), skipTLSVerify: false }],
    users: [{ name: 'envtest-admin', certData: b64(cert), keyData: b64(key) }],
    contexts: [{ name: 'envtest', cluster: 'envtest', user: 'envtest-admin' }],
    currentContext: 'envtest',
  });
  return kc;
}

async function startOnce(
  binaries: ControlPlaneBinaries,
  options: StartControlPlaneOptions,
): Promise<ControlPlane> {
  const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'switchboard-envtest-'));
  const processes: ManagedProcess[] = [];
  // If the runner exits without calling stop() (an uncaught error, process.exit), kill the
  // children and remove the directory anyway. 'exit' handlers must be synchronous.
  const onExit = () => {
    for (const p of processes) p.killNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      // API server first, so it does not spend its shutdown retrying a vanished etcd.
      for (const p of [...processes].reverse()) await p.stop(10_000);
      await rm(dir, { recursive: true, force: true });
      process.off('exit', onExit);
    })();
    return stopped;
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    const [etcdClientPort, etcdPeerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;

    // etcd starts while the certificates are generated; it needs none (plain HTTP on loopback).
    const etcd = new ManagedProcess(
      'etcd',
      binaries.etcd,
      [
        '--name=envtest',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=envtest=${peerUrl}`,
        // A throwaway test store: skipping fsync makes every write much faster.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      join(dir, 'etcd.log'),
    );
    processes.push(etcd);

    const certs = await generateCertificates({
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
    });
    const file = (name: string) => join(dir, name);
    await Promise.all([
      writeFile(file('ca.crt'), certs.ca.cert),
      writeFile(file('apiserver.crt'), certs.serving.cert),
      writeFile(file('apiserver.key'), certs.serving.key, { mode: 0o600 }),
      writeFile(file('sa.pub'), certs.serviceAccount.publicKey),
      writeFile(file('sa.key'), certs.serviceAccount.privateKey, { mode: 0o600 }),
    ]);

    await waitUntil('healthy', etcd, deadline, async () => {
      const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return response.ok && ((await response.json()) as { health?: string }).health === 'true';
    });

    const server = `https://127.0.0.1:${apiPort}`;
    const apiServer = new ManagedProcess(
      'kube-apiserver',
      binaries.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        // Without it the API server derives an address from the default route, which a machine
        // with no network may not have.
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${file('apiserver-certs')}`,
        `--tls-cert-file=${file('apiserver.crt')}`,
        `--tls-private-key-file=${file('apiserver.key')}`,
        `--client-ca-file=${file('ca.crt')}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        // The ServiceAccount admission plugin waits for a default ServiceAccount that only
        // kube-controller-manager creates.
        '--disable-admission-plugins=ServiceAccount',
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${file('sa.pub')}`,
        `--service-account-signing-key-file=${file('sa.key')}`,
        '--profiling=false',
        ...(options.extraApiServerFlags ?? []),
      ],
      file('kube-apiserver.log'),
    );
    processes.push(apiServer);

    const kubeConfig = buildKubeConfig(server, certs.ca.cert, certs.admin.cert, certs.admin.key);
    // /readyz turns 200 only after the post-start hooks ran, RBAC's bootstrap roles included,
    // so the admin certificate is authorized the moment this returns.
    await waitUntil('ready', apiServer, deadline, async () => {
      const response = await kubeRequest(kubeConfig, { path: '/readyz' });
      return response.status === 200;
    });

    const kubeconfigPath = file('kubeconfig');
    await writeFile(kubeconfigPath, stringify(JSON.parse(kubeConfig.exportConfig())), { mode: 0o600 });
    const version = (await kubeRequest<KubernetesVersionInfo>(kubeConfig, { path: '/version' })).body;

    return {
      kubeConfig,
      kubeconfigPath,
      server,
      caCertificate: certs.ca.cert,
      version,
      etcdUrl,
      dir,
      pids: { etcd: etcd.child.pid ?? -1, kubeApiserver: apiServer.child.pid ?? -1 },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts etcd and kube-apiserver on free loopback ports in a new temporary directory (like
 * controller-runtime's envtest: no kubelet, no controllers), waits until the API server is
 * ready, and returns an admin KubeConfig for it. Call stop() when done.
 */
export async function startControlPlane(options: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries =
    options.binaries ?? (await ensureControlPlaneBinaries(options.env ? { env: options.env } : {}));
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binaries, options);
    } catch (error) {
      if (!(error instanceof PortTakenError)) throw error;
      if (attempt === 3) {
        throw new EnvtestError('START_FAILED', 'a port picked for the control plane was taken three times', {
          output: error.message,
        });
      }
    }
  }
}

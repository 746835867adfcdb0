// Command line of the dev loop (the Makefile's tilt-* and dev targets, scripts/dev/):
//   node packages/devloop/src/cli.ts tilt-binary              build (or reuse) Tilt; prints its path
//   node packages/devloop/src/cli.ts import <archive>...      ctr import into the cluster's containerd
//   node packages/devloop/src/cli.ts sync <tenant>            make dev: sync changed sources into the pods
//   node packages/devloop/src/cli.ts proxy <host> <port>      the Ingress (127.0.0.1:18080) as http://localhost:<port>
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterDir, importImages, PORTS } from '@switchboard/cluster';
import { startIngressProxy } from './proxy.ts';
import { startSyncLoop } from './sync.ts';
import { ensureTiltBinary } from './tilt-binary.ts';

const log = (message: string) => console.warn(`[devloop] ${message}`);
const say = (message: string) => process.stdout.write(`${message}\n`);
const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

function usage(): never {
  console.error(
    'usage: node packages/devloop/src/cli.ts tilt-binary | import <archive>... | sync <tenant> | proxy <host> <port>',
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'tilt-binary': {
      const tilt = await ensureTiltBinary({ log });
      say(tilt.path);
      return;
    }
    case 'import': {
      if (args.length === 0) usage();
      const socket = join(clusterDir(process.env), 'containerd', 'containerd.sock');
      await importImages(
        socket,
        args.map((archive) => resolve(archive)),
      );
      log(`imported ${args.join(', ')} into the cluster's containerd`);
      return;
    }
    case 'sync': {
      const tenant = args[0];
      if (!tenant || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(tenant)) usage();
      const namespace = process.env.DEV_NAMESPACE ?? 'tenants';
      const stop = startSyncLoop({
        root,
        kubectl: process.env.KUBECTL ?? 'kubectl',
        log,
        targets: [
          {
            name: 'operator',
            namespace: 'switchboard-system',
            selector: 'app.kubernetes.io/component=operator',
          },
          {
            name: 'api',
            namespace,
            selector: `switchboard.dev/tenant=${tenant},app.kubernetes.io/component=api`,
          },
          {
            name: 'worker',
            namespace,
            selector: `switchboard.dev/tenant=${tenant},app.kubernetes.io/component=worker`,
          },
        ],
      });
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          stop();
          process.exit(0);
        });
      }
      return;
    }
    case 'proxy': {
      const [host, port] = args;
      const portNumber = Number(port);
      if (
        !host ||
        !/^[a-z0-9.-]+$/.test(host) ||
        !Number.isInteger(portNumber) ||
        portNumber < 0 ||
        portNumber > 65535
      ) {
        usage();
      }
      const proxy = await startIngressProxy({
        host,
        port: portNumber,
        ingress: { hostname: '127.0.0.1', port: PORTS.ingressHttp },
      });
      say(`the inbox of ${host} through the Ingress: http://localhost:${proxy.port}`);
      return;
    }
    default:
      usage();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

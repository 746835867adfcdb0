import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/** How `TcpProxy` treats connections. */
export type TcpProxyMode = 'forward' | 'refuse';

/**
 * TEST-ONLY: a loopback TCP proxy in front of the API server, to break, refuse or stall the
 * connections of the code under test while TLS stays end to end (the API server's
 * certificate names 127.0.0.1, so only the port changes).
 */
export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** Connections accepted so far (refused ones included). */
  readonly acceptedConnections: number;
  /** Connections open now. */
  openConnections(): number;
  /** `forward` (default) passes new connections on; `refuse` closes them at once. */
  setMode(mode: TcpProxyMode): void;
  /** Destroys every open connection, as a crashed load balancer would. */
  breakConnections(): void;
  /** Stops moving bytes on the open connections but keeps them open: a silent dead peer. */
  stallConnections(): void;
  /** A copy of `kubeConfig` whose server is this proxy. */
  kubeConfigFor(kubeConfig: KubeConfig): KubeConfig;
  /** Closes the proxy and every connection. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

/** TEST-ONLY: starts a `TcpProxy` to `target` (the API server's URL). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port: targetPort } = new URL(target);
  const pairs = new Set<Pair>();
  let mode: TcpProxyMode = 'forward';
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(targetPort), hostname.replace(/^\[|\]$/g, ''));
    const pair = { client, upstream };
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get acceptedConnections() {
      return accepted;
    },
    openConnections: () => pairs.size,
    setMode: (next) => {
      mode = next;
    },
    breakConnections: () => {
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
    },
    stallConnections: () => {
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    kubeConfigFor: (kubeConfig) => {
      const copy = new KubeConfig();
      copy.loadFromOptions({
        clusters: kubeConfig.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
        users: kubeConfig.users,
        contexts: kubeConfig.contexts,
        currentContext: kubeConfig.currentContext,
      });
      return copy;
    },
    close: async () => {
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

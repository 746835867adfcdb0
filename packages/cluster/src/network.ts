import { readFile } from 'node:fs/promises';
import { run } from '@switchboard/envtest';
import { ClusterError } from './errors.ts';

/**
 * The cluster's addresses. None overlaps podman's 10.88.0.0/16 or the machine's own networks
 * (checkAddressSpace refuses to start when one does). The API server listens on the pod
 * bridge's gateway address, so pods reach it through the `kubernetes` Service exactly as the
 * host does; every component listens on that address or on loopback, never on eth0.
 */
export const NETWORK = {
  /** kube-proxy's --cluster-cidr and the controller manager's node CIDR allocation range. */
  podCidr: '10.244.0.0/16',
  /** The node's pod range (the first /24 of podCidr, what the controller manager assigns). */
  nodePodCidr: '10.244.0.0/24',
  /** The bridge's own address: the pods' gateway, and where the API server listens. */
  gateway: '10.244.0.1',
  bridge: 'sbcluster0',
  serviceCidr: '10.96.0.0/16',
  /** The `kubernetes` Service's cluster IP. */
  apiServiceIp: '10.96.0.1',
  /** CoreDNS's Service IP (the kubelet's clusterDNS). */
  dnsServiceIp: '10.96.0.10',
  /** The CNI network's name; CNI's iptables rules carry it in their comments. */
  cniNetwork: 'switchboard-cluster',
} as const;

/** Fixed ports; the API server on the gateway address, everything else on 127.0.0.1. */
export const PORTS = {
  apiServer: 16443,
  etcdClient: 12379,
  etcdPeer: 12380,
  /** Traefik's web entry point: Ingresses answer at http://127.0.0.1:18080. */
  ingressHttp: 18080,
  /** Traefik's ping (readiness) entry point. */
  ingressPing: 18081,
  kubelet: 10250,
  kubeletHealthz: 10248,
  controllerManager: 10257,
  scheduler: 10259,
  kubeProxyHealthz: 10256,
  kubeProxyMetrics: 10249,
} as const;

export const NODE_NAME = 'switchboard';
export const CLUSTER_DOMAIN = 'cluster.local';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** Whether two IPv4 CIDRs share any address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const range = (cidr: string): [number, number] => {
    const [ip = '0.0.0.0', bits = '32'] = cidr.split('/');
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(ipToInt(ip) / size) * size;
    return [start, start + size - 1];
  };
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

/** podman's default network, which must stay usable beside the cluster. */
const PODMAN_DEFAULT = '10.88.0.0/16';

/**
 * Refuses to start when the pod or service range overlaps podman's default network or a route
 * of this machine that is not the cluster's own bridge.
 */
export async function checkAddressSpace(): Promise<void> {
  const routes = await run('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const taken: string[] = [PODMAN_DEFAULT];
  for (const line of routes.stdout.split('\n')) {
    const [dst] = line.trim().split(/\s+/);
    if (!dst || line.includes(`dev ${NETWORK.bridge}`)) continue;
    if (/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dst) && !dst.startsWith('127.') && dst !== '0.0.0.0/0') {
      taken.push(dst.includes('/') ? dst : `${dst}/32`);
    }
  }
  for (const ours of [NETWORK.podCidr, NETWORK.serviceCidr]) {
    const clash = taken.find((other) => cidrsOverlap(ours, other));
    if (clash) {
      throw new ClusterError(
        'PRECONDITION_FAILED',
        `the cluster's range ${ours} overlaps ${clash} on this machine; change NETWORK in packages/cluster/src/network.ts`,
      );
    }
  }
}

async function ip(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const result = await run('ip', args);
  return { code: result.code, stderr: result.stderr };
}

/**
 * Creates the pod bridge with the gateway address before anything starts, so the API server
 * can listen on it (the CNI bridge plugin reuses an existing bridge and its address).
 */
export async function ensureBridge(): Promise<void> {
  const exists = await ip(['link', 'show', NETWORK.bridge]);
  if (exists.code !== 0) {
    const added = await ip(['link', 'add', NETWORK.bridge, 'type', 'bridge']);
    if (added.code !== 0) {
      throw new ClusterError(
        'START_FAILED',
        `ip link add ${NETWORK.bridge} type bridge: ${added.stderr.trim()}`,
      );
    }
  }
  const addresses = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', NETWORK.bridge]);
  if (!addresses.stdout.includes(`${NETWORK.gateway}/`)) {
    const prefix = NETWORK.nodePodCidr.split('/')[1];
    const added = await ip(['addr', 'add', `${NETWORK.gateway}/${prefix}`, 'dev', NETWORK.bridge]);
    if (added.code !== 0) throw new ClusterError('START_FAILED', `ip addr add: ${added.stderr.trim()}`);
  }
  await ip(['link', 'set', NETWORK.bridge, 'up']);
}

/** The cluster's own filter chain, jumped to from FORWARD for traffic from the pods. */
export const EGRESS_CHAIN = 'SB-CLUSTER-EGRESS';

/**
 * Pods may only reach the pod range (Service IPs are rewritten to pod addresses before
 * FORWARD) and the host: anything else, e.g. a Service IP with no endpoints or an address
 * outside this machine, is rejected instead of leaving through the default route.
 */
export async function ensureEgressGuard(): Promise<void> {
  const ipt = (...args: string[]) => run('iptables', ['-w', '-t', 'filter', ...args]);
  await ipt('-N', EGRESS_CHAIN);
  await ipt('-F', EGRESS_CHAIN);
  await ipt('-A', EGRESS_CHAIN, '-d', NETWORK.podCidr, '-j', 'RETURN');
  await ipt('-A', EGRESS_CHAIN, '-j', 'REJECT', '--reject-with', 'icmp-net-prohibited');
  const jump = [
    'FORWARD',
    '-s',
    NETWORK.podCidr,
    '-m',
    'comment',
    '--comment',
    NETWORK.cniNetwork,
    '-j',
    EGRESS_CHAIN,
  ];
  if ((await ipt('-C', ...jump)).code !== 0) {
    const added = await ipt('-I', ...jump);
    if (added.code !== 0)
      throw new ClusterError('START_FAILED', `iptables -I FORWARD: ${added.stderr.trim()}`);
  }
}

/** Removes the pod bridge (and with it every veth still attached). */
export async function removeBridge(): Promise<void> {
  if ((await ip(['link', 'show', NETWORK.bridge])).code === 0) await ip(['link', 'del', NETWORK.bridge]);
}

type IptablesCommand = 'iptables' | 'ip6tables';

async function iptablesSave(command: IptablesCommand, table: string): Promise<string> {
  const result = await run(`${command}-save`, ['-t', table]);
  return result.code === 0 ? result.stdout : '';
}

/**
 * Removes the iptables rules and chains the cluster added and that survived `kube-proxy
 * --cleanup` and `kube-router --cleanup-config`: rules whose comment names the CNI network or
 * whose addresses are in the pod range, the per-pod CNI-* chains they jump to (portmap's shared
 * CNI-HOSTPORT-* chains only when empty), every KUBE-* chain (the kubelet's canaries and
 * firewall, kube-proxy's, kube-router's) and the jumps to it, and the cluster's own
 * SB-CLUSTER-* chain. Nothing else is touched: no table is flushed and no policy changes.
 */
export async function removeIptablesLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  for (const command of ['iptables', 'ip6tables'] as const) {
    for (const table of ['nat', 'filter', 'mangle', 'raw']) {
      const dump = await iptablesSave(command, table);
      if (!dump) continue;
      const lines = dump.split('\n');
      const ourChains = new Set<string>();
      const ruleLines: string[] = [];
      for (const line of lines) {
        if (!line.startsWith('-A ')) continue;
        const ours =
          line.includes(`name: \\"${NETWORK.cniNetwork}\\"`) ||
          line.includes(`name: "${NETWORK.cniNetwork}"`) ||
          line.includes(NETWORK.cniNetwork) ||
          line.includes(NETWORK.podCidr) ||
          line.includes(NETWORK.nodePodCidr) ||
          / -j (KUBE-|SB-CLUSTER-)/.test(line);
        if (!ours) continue;
        ruleLines.push(line);
        const jump = / -j ((CNI-|KUBE-|SB-CLUSTER-)[A-Za-z0-9-]+)/.exec(line);
        if (jump?.[1]) ourChains.add(jump[1]);
      }
      // The KUBE-* chains (the kubelet's, kube-proxy's, kube-router's: no other Kubernetes runs
      // here) and our own exist even when no rule in a built-in chain names them.
      for (const line of lines) {
        const chain = /^:((KUBE-|SB-CLUSTER-)[A-Za-z0-9-]*) /.exec(line)?.[1];
        if (chain) ourChains.add(chain);
      }
      for (const line of ruleLines) {
        const args = splitRule(line.replace(/^-A /, '-D '));
        const result = await run(command, ['-w', '-t', table, ...args]);
        if (result.code === 0) removed.push(`${command} -t ${table} ${line}`);
      }
      // Rules inside our chains go with the chain; other chains' jumps into ours went above.
      // All are flushed before any is deleted, since our chains jump to one another.
      const deletable: string[] = [];
      for (const chain of ourChains) {
        if (chain === 'CNI-HOSTPORT-DNAT' || chain === 'CNI-HOSTPORT-SNAT' || chain === 'CNI-HOSTPORT-MASQ') {
          // portmap's shared chains: removed only when nothing else (e.g. podman) uses them.
          const now = (await iptablesSave(command, table)).split('\n');
          if (now.some((l) => l.startsWith(`-A ${chain} `))) continue;
          for (const ref of now.filter((l) => l.includes(`-j ${chain}`))) {
            await run(command, ['-w', '-t', table, ...splitRule(ref.replace(/^-A /, '-D '))]);
          }
        }
        await run(command, ['-w', '-t', table, '-F', chain]);
        deletable.push(chain);
      }
      for (const chain of deletable) {
        const deleted = await run(command, ['-w', '-t', table, '-X', chain]);
        if (deleted.code === 0) removed.push(`${command} -t ${table} -X ${chain}`);
      }
    }
  }
  return removed;
}

/** Splits an iptables-save rule into arguments, keeping quoted comments whole. */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let match = pattern.exec(rule); match; match = pattern.exec(rule)) {
    args.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? ''));
  }
  return args;
}

/** Mount points at or under `dir`, deepest first (for unmounting). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const point = line.split(' ')[4];
    if (!point) continue;
    // mountinfo escapes spaces and the like as octal.
    const decoded = point.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (decoded === dir || decoded.startsWith(`${dir}/`)) points.add(decoded);
  }
  return [...points].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or under `dir` (the kubelet's bind mounts, volumes, overlay rootfs). */
export async function unmountUnder(dir: string): Promise<string[]> {
  const unmounted: string[] = [];
  for (let round = 0; round < 5; round++) {
    const points = await mountsUnder(dir);
    if (points.length === 0) break;
    for (const point of points) {
      const result = await run('umount', ['-l', point]);
      if (result.code === 0) unmounted.push(point);
    }
  }
  return unmounted;
}

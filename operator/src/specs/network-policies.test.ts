import type {
  V1LabelSelector,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { WhatsAppTenantSpecInput } from '../api/v1alpha1/index.ts';
import { operatorConfigFixture, tenantFixture } from '../testing/fixtures.ts';
import { type Component, componentLabels } from './names.ts';
import { buildNetworkPolicies, NAMESPACE_NAME_LABEL } from './network-policies.ts';

// A small NetworkPolicy evaluator with the API's semantics: a pod selected by any policy of a
// type is isolated for that direction, and then a flow passes only if some rule of a policy
// selecting it matches the peer and the port. A flow between two pods needs the sender's
// egress and the receiver's ingress.

type Pod = { namespace: string; labels: Record<string, string> };
type Address = { ip: string };
type Endpoint = Pod | Address;

function matches(selector: V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return true;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every(
    (expression) =>
      expression.operator === 'In' && (expression.values ?? []).includes(labels[expression.key] ?? ''),
  );
  return byLabels && byExpressions;
}

function ipv4(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4) return undefined;
  return parts.reduce((value, part) => value * 256 + part, 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const address = ipv4(ip);
  const network = ipv4(base ?? '');
  if (address === undefined || network === undefined) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(address / size) === Math.floor(network / size);
}

function peerMatches(peer: V1NetworkPolicyPeer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) {
    if (!('ip' in endpoint)) return false;
    return (
      inCidr(endpoint.ip, peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).some((cidr) => inCidr(endpoint.ip, cidr))
    );
  }
  if ('ip' in endpoint) return false;
  const namespaceOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, { [NAMESPACE_NAME_LABEL]: endpoint.namespace })
    : endpoint.namespace === policyNamespace;
  return namespaceOk && matches(peer.podSelector, endpoint.labels);
}

function portMatches(ports: V1NetworkPolicyPort[] | undefined, port: number, protocol: string): boolean {
  return (
    ports === undefined ||
    ports.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port))
  );
}

function allowed(
  policies: V1NetworkPolicy[],
  from: Endpoint,
  to: Endpoint,
  port: number,
  protocol = 'TCP',
): boolean {
  const selecting = (pod: Endpoint, type: string) =>
    'ip' in pod
      ? []
      : policies.filter(
          (policy) =>
            policy.metadata?.namespace === pod.namespace &&
            matches(policy.spec?.podSelector, pod.labels) &&
            (policy.spec?.policyTypes ?? []).includes(type),
        );
  const egressPolicies = selecting(from, 'Egress');
  const egressOk =
    egressPolicies.length === 0 ||
    egressPolicies.some((policy) =>
      (policy.spec?.egress ?? []).some(
        (rule) =>
          portMatches(rule.ports, port, protocol) &&
          (rule.to === undefined ||
            rule.to.some((peer) => peerMatches(peer, policy.metadata?.namespace ?? '', to))),
      ),
    );
  const ingressPolicies = selecting(to, 'Ingress');
  const ingressOk =
    ingressPolicies.length === 0 ||
    ingressPolicies.some((policy) =>
      (policy.spec?.ingress ?? []).some(
        (rule) =>
          portMatches(rule.ports, port, protocol) &&
          (rule._from === undefined ||
            rule._from.some((peer) => peerMatches(peer, policy.metadata?.namespace ?? '', from))),
      ),
    );
  return egressOk && ingressOk;
}

const config = operatorConfigFixture({
  network: { ...operatorConfigFixture().network, otelCollector: [{ namespace: 'observability' }] },
});

function setup(spec: WhatsAppTenantSpecInput = {}) {
  const tenant = tenantFixture(spec, { name: 'np-test' });
  const policies = buildNetworkPolicies(tenant, config);
  const pod = (component: Component): Pod => ({
    namespace: 'tenants',
    labels: componentLabels(tenant, component),
  });
  return {
    policies,
    pod,
    can: (from: Endpoint, to: Endpoint, port: number, protocol?: string) =>
      allowed(policies, from, to, port, protocol),
  };
}

const ingressController: Pod = {
  namespace: 'ingress-nginx',
  labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
};
const prometheus: Pod = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } };
const coredns: Pod = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
const postgres: Pod = { namespace: 'switchboard-system', labels: { 'cnpg.io/cluster': 'platform' } };
const collector: Pod = { namespace: 'observability', labels: { app: 'otel-collector' } };
const stranger: Pod = { namespace: 'other-tenant', labels: { app: 'anything' } };
const whatsapp: Address = { ip: '157.240.0.53' };
const metadataEndpoint: Address = { ip: '169.254.169.254' };
const privateAddress: Address = { ip: '10.1.2.3' };

describe('buildNetworkPolicies', () => {
  const { policies, pod, can } = setup({ observability: { tracing: { endpoint: 'http://otel:4318' } } });
  const [api, worker, redis, sentinel, migrations] = (
    ['api', 'worker', 'redis', 'sentinel', 'migrations'] as const
  ).map(pod) as [Pod, Pod, Pod, Pod, Pod];

  it('starts from deny-all for every tenant pod, both directions', () => {
    const deny = policies.find((policy) => policy.metadata?.name === 'np-test-default-deny');
    expect(deny?.spec).toEqual({
      podSelector: { matchLabels: { 'switchboard.dev/tenant': 'np-test' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [],
    });
  });

  it('lets every tenant pod resolve names', () => {
    for (const from of [api, worker, redis, sentinel, migrations]) {
      expect(can(from, coredns, 53, 'UDP')).toBe(true);
      expect(can(from, coredns, 53, 'TCP')).toBe(true);
    }
  });

  it('allows DNS on the ports the DNS pods listen on when they are not 53', () => {
    const network = { ...operatorConfigFixture().network, dnsPorts: [1053] };
    const tenant = tenantFixture({}, { name: 'np-test' });
    const dnsPolicies = buildNetworkPolicies(tenant, operatorConfigFixture({ network }));
    const apiPod = { namespace: 'tenants', labels: componentLabels(tenant, 'api') };
    expect(allowed(dnsPolicies, apiPod, coredns, 1053, 'UDP')).toBe(true);
    expect(allowed(dnsPolicies, apiPod, coredns, 1053, 'TCP')).toBe(true);
    expect(allowed(dnsPolicies, apiPod, coredns, 53, 'UDP')).toBe(false);
  });

  it('lets the ingress controller reach the API, and nothing else', () => {
    expect(can(ingressController, api, 8080)).toBe(true);
    expect(can(ingressController, worker, 9464)).toBe(false);
    expect(can(ingressController, redis, 6379)).toBe(false);
    expect(can(stranger, api, 8080)).toBe(false);
  });

  it("lets the operator read the API's internal routes when its pods are configured, and only then", () => {
    const operator: Pod = {
      namespace: 'switchboard-system',
      labels: { 'app.kubernetes.io/name': 'operator' },
    };
    expect(can(operator, api, 8080)).toBe(false);
    const withOperator = operatorConfigFixture({
      network: { ...config.network, operator: [{ namespace: 'switchboard-system' }] },
    });
    const policies = buildNetworkPolicies(tenantFixture({}, { name: 'np-test' }), withOperator);
    expect(allowed(policies, operator, api, 8080)).toBe(true);
    expect(allowed(policies, operator, worker, 9464)).toBe(false);
    expect(allowed(policies, stranger, api, 8080)).toBe(false);
  });

  it('lets Prometheus scrape the API and workers', () => {
    expect(can(prometheus, api, 9464)).toBe(true);
    expect(can(prometheus, worker, 9464)).toBe(true);
    expect(can(prometheus, redis, 6379)).toBe(false);
  });

  it('lets the API and workers reach Redis and the Sentinels, and the group reach itself', () => {
    for (const client of [api, worker]) {
      expect(can(client, redis, 6379)).toBe(true);
      expect(can(client, sentinel, 26379)).toBe(true);
    }
    expect(can(redis, redis, 6379)).toBe(true);
    expect(can(redis, sentinel, 26379)).toBe(true);
    expect(can(sentinel, redis, 6379)).toBe(true);
    expect(can(sentinel, sentinel, 26379)).toBe(true);
    expect(can(migrations, redis, 6379)).toBe(false);
    expect(can(stranger, redis, 6379)).toBe(false);
  });

  it('lets the API, workers and migrations reach the platform Postgres, and Redis not', () => {
    expect(can(api, postgres, 5432)).toBe(true);
    expect(can(worker, postgres, 5432)).toBe(true);
    expect(can(migrations, postgres, 5432)).toBe(true);
    expect(can(redis, postgres, 5432)).toBe(false);
  });

  it('lets workers reach WhatsApp on 443 and 5222, but not private ranges or the metadata endpoint', () => {
    expect(can(worker, whatsapp, 443)).toBe(true);
    expect(can(worker, whatsapp, 5222)).toBe(true);
    expect(can(worker, whatsapp, 22)).toBe(false);
    expect(can(worker, metadataEndpoint, 80)).toBe(false);
    expect(can(worker, privateAddress, 443)).toBe(false);
    expect(can(api, whatsapp, 443)).toBe(false);
    expect(can(redis, whatsapp, 443)).toBe(false);
  });

  it('lets workers call the API, and sends traces to the collector', () => {
    expect(can(worker, api, 8080)).toBe(true);
    expect(can(api, worker, 9464)).toBe(false);
    expect(can(api, collector, 4318)).toBe(true);
    expect(can(worker, collector, 4318)).toBe(true);
    expect(can(redis, collector, 4318)).toBe(false);
  });

  it('with an external Redis and database, allows their ports out and builds no Redis policies', () => {
    const external = setup({
      redis: { mode: 'external', external: { secretRef: { name: 'r', key: 'url' } } },
      database: { mode: 'external', external: { secretRef: { name: 'db' } } },
    });
    const managedRedis: Address = { ip: '52.1.2.3' };
    expect(external.can(external.pod('worker'), managedRedis, 6380)).toBe(true);
    expect(external.can(external.pod('api'), managedRedis, 5432)).toBe(true);
    expect(external.can(external.pod('migrations'), managedRedis, 5432)).toBe(true);
    expect(external.can(external.pod('api'), managedRedis, 443)).toBe(false);
    expect(external.policies.map((policy) => policy.metadata?.name)).not.toContain('np-test-redis');
  });

  it('with the external Redis and database addresses in the spec, allows only those ranges and ports', () => {
    const narrowed = setup({
      redis: {
        mode: 'external',
        external: { secretRef: { name: 'r', key: 'url' }, port: 6380, cidrs: ['10.20.0.8/32'] },
      },
      database: {
        mode: 'external',
        external: { secretRef: { name: 'db' }, port: 5433, cidrs: ['10.30.0.0/24'] },
      },
    });
    const [api, worker, migrations] = (['api', 'worker', 'migrations'] as const).map(narrowed.pod);
    const redisHost: Address = { ip: '10.20.0.8' };
    const postgresHost: Address = { ip: '10.30.0.17' };
    for (const from of [api!, worker!]) {
      expect(narrowed.can(from, redisHost, 6380)).toBe(true);
      expect(narrowed.can(from, redisHost, 6379)).toBe(false);
      expect(narrowed.can(from, postgresHost, 5433)).toBe(true);
      expect(narrowed.can(from, postgresHost, 5432)).toBe(false);
      // Anywhere else on those ports: closed (before, 0.0.0.0/0 on 5432, 6379 and 6380).
      for (const port of [5432, 5433, 6379, 6380]) {
        expect(narrowed.can(from, { ip: '52.1.2.3' }, port)).toBe(false);
        expect(narrowed.can(from, privateAddress, port)).toBe(false);
        expect(narrowed.can(from, stranger, port)).toBe(false);
      }
    }
    expect(narrowed.can(migrations!, postgresHost, 5433)).toBe(true);
    expect(narrowed.can(migrations!, redisHost, 6380)).toBe(false);
  });

  it('with no platform Postgres peers configured, opens no Postgres egress at all', () => {
    const tenant = tenantFixture({}, { name: 'np-test' });
    const closed = buildNetworkPolicies(tenant, {
      ...config,
      network: { ...config.network, postgres: { peers: [], port: 5432 } },
    });
    for (const policy of closed) {
      for (const rule of policy.spec?.egress ?? []) {
        // An egress rule without peers would reach every address.
        expect(rule.to?.length, policy.metadata?.name).toBeGreaterThan(0);
        expect(rule.ports?.map((port) => port.port)).not.toContain(5432);
      }
    }
  });

  it('rejects an address range that is not CIDR notation', () => {
    expect(() =>
      tenantFixture({
        database: { mode: 'external', external: { secretRef: { name: 'db' }, cidrs: ['db.example.com'] } },
      }),
    ).toThrow(/CIDR/);
  });

  it('lets the pods reach Vault when secrets come from Vault', () => {
    const vault = setup({
      secrets: {
        provider: 'vault',
        vault: { address: 'https://vault.example.com:8200', role: 'r', path: 'kv/x' },
      },
    });
    expect(vault.can(vault.pod('api'), { ip: '52.1.2.3' }, 8200)).toBe(true);
    expect(vault.can(vault.pod('worker'), { ip: '52.1.2.3' }, 8200)).toBe(true);
  });
});

import type {
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
} from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { type Component, PORTS, selectorLabels, tenantSelectorLabels } from './names.ts';
import type { NetworkPeer, OperatorConfig } from './operator-config.ts';
import { childMetadata } from './owner-reference.ts';

/**
 * The tenant's NetworkPolicies: deny everything in and out of the tenant's pods, then allow the
 * flows the stack needs, one policy per kind of pod so `kubectl describe netpol acme-worker`
 * reads as that pod's whole list. Every flow inside the tenant is allowed on both ends (egress
 * of the sender, ingress of the receiver): with default deny both directions are enforced.
 *
 * Like every builder these return @kubernetes/client-node model objects, whose `_from` is the
 * wire's `from`: send them through the client's ObjectSerializer (KubernetesObjectApi does).
 */

const tcp = (port: number): V1NetworkPolicyPort => ({ protocol: 'TCP', port });

/** The namespace label every namespace has (Kubernetes 1.22+), by which peers are selected. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A configured peer as a NetworkPolicy peer. */
export function networkPolicyPeer(peer: NetworkPeer): V1NetworkPolicyPeer {
  if ('cidr' in peer)
    return { ipBlock: { cidr: peer.cidr, ...(peer.except ? { except: peer.except } : {}) } };
  return {
    namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: peer.namespace } },
    ...(peer.podLabels ? { podSelector: { matchLabels: peer.podLabels } } : {}),
  };
}

function pods(tenant: WhatsAppTenant, ...components: Component[]): V1NetworkPolicyPeer[] {
  return components.map((component) => ({ podSelector: { matchLabels: selectorLabels(tenant, component) } }));
}

// Somewhere the operator cannot see: inside the cluster (any pod) or outside (any address).
const ANYWHERE: V1NetworkPolicyPeer[] = [
  { namespaceSelector: {} },
  { ipBlock: { cidr: '0.0.0.0/0' } },
  { ipBlock: { cidr: '::/0' } },
];

/**
 * The public internet: everything but private, shared and link-local ranges. Link-local matters
 * most: it holds the cloud metadata endpoint (169.254.169.254), whose node credentials a
 * compromised worker must not reach.
 */
export const INTERNET: V1NetworkPolicyPeer[] = [
  {
    ipBlock: {
      cidr: '0.0.0.0/0',
      except: [
        '10.0.0.0/8',
        '172.16.0.0/12',
        '192.168.0.0/16',
        '100.64.0.0/10',
        '169.254.0.0/16',
        '127.0.0.0/8',
      ],
    },
  },
  { ipBlock: { cidr: '::/0', except: ['fc00::/7', 'fe80::/10', '::1/128'] } },
];

/** The SMTP port of each TLS mode, as the API defaults it when spec.email.port is unset. */
const SMTP_PORTS = { none: 25, starttls: 587, tls: 465 } as const;

function urlPort(url: string): number {
  const parsed = new URL(url);
  if (parsed.port !== '') return Number(parsed.port);
  return parsed.protocol === 'https:' ? 443 : 80;
}

/** Egress to the tenant's Redis: its own pods, or an external Redis on the usual ports. */
function redisEgress(tenant: WhatsAppTenant): V1NetworkPolicyEgressRule[] {
  if (tenant.spec.redis.mode === 'sentinel') {
    return [
      { to: pods(tenant, 'redis'), ports: [tcp(PORTS.redis)] },
      { to: pods(tenant, 'sentinel'), ports: [tcp(PORTS.sentinel)] },
    ];
  }
  // The address is inside a Secret the operator does not read: the spec says where it is
  // (external.cidrs, external.port); unset, Redis's ports (6380 is the usual TLS port of managed
  // Redis services) anywhere.
  const external = tenant.spec.redis.external!;
  const ports = external.port === undefined ? [tcp(6379), tcp(6380)] : [tcp(external.port)];
  return [{ to: cidrPeers(external.cidrs), ports }];
}

/** The ranges a spec names, or anywhere when it names none. */
function cidrPeers(cidrs: readonly string[] | undefined): V1NetworkPolicyPeer[] {
  return cidrs ? cidrs.map((cidr) => ({ ipBlock: { cidr } })) : ANYWHERE;
}

/** Egress to the tenant's Postgres: the platform Postgres, or an external one where the spec says. */
function postgresEgress(tenant: WhatsAppTenant, config: OperatorConfig): V1NetworkPolicyEgressRule[] {
  if (tenant.spec.database.mode === 'managed') {
    const { peers, port } = config.network.postgres;
    // No peers configured: no rule (an egress rule with no `to` would allow every address).
    if (peers.length === 0) return [];
    return [{ to: peers.map(networkPolicyPeer), ports: [tcp(port)] }];
  }
  const external = tenant.spec.database.external!;
  return [{ to: cidrPeers(external.cidrs), ports: [tcp(external.port)] }];
}

/** Egress the API and workers need beyond Redis and Postgres: traces, the secret provider. */
function serviceExtraEgress(tenant: WhatsAppTenant, config: OperatorConfig): V1NetworkPolicyEgressRule[] {
  const rules: V1NetworkPolicyEgressRule[] = [];
  const tracing = tenant.spec.observability.tracing;
  if (tracing) {
    const to = config.network.otelCollector?.map(networkPolicyPeer) ?? [{ namespaceSelector: {} }];
    rules.push({ to, ports: [tcp(urlPort(tracing.endpoint))] });
  }
  const { secrets } = tenant.spec;
  if (secrets.provider === 'vault')
    rules.push({ to: ANYWHERE, ports: [tcp(urlPort(secrets.vault!.address))] });
  if (secrets.provider === 'aws') rules.push({ to: INTERNET, ports: [tcp(443)] });
  return rules;
}

function metricsIngress(config: OperatorConfig): V1NetworkPolicyIngressRule {
  return { _from: config.network.prometheus.map(networkPolicyPeer), ports: [tcp(PORTS.metrics)] };
}

function policy(
  tenant: WhatsAppTenant,
  name: string,
  component: Component,
  podLabels: Record<string, string>,
  rules: { ingress?: V1NetworkPolicyIngressRule[]; egress?: V1NetworkPolicyEgressRule[] },
): V1NetworkPolicy {
  const policyTypes = [...(rules.ingress ? ['Ingress'] : []), ...(rules.egress ? ['Egress'] : [])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(tenant, `${tenant.metadata.name}-${name}`, component),
    spec: { podSelector: { matchLabels: podLabels }, policyTypes, ...rules },
  };
}

/** The tenant's NetworkPolicies. */
export function buildNetworkPolicies(tenant: WhatsAppTenant, config: OperatorConfig): V1NetworkPolicy[] {
  const { network } = config;
  const tenantPods = tenantSelectorLabels(tenant);
  const redisClients = pods(tenant, 'api', 'worker', 'redis', 'sentinel');
  const policies = [
    // Selects every tenant pod and allows nothing: whatever no other policy allows is denied.
    policy(tenant, 'default-deny', 'config', tenantPods, { ingress: [], egress: [] }),
    policy(tenant, 'dns', 'config', tenantPods, {
      // The DNS pods' own ports: a NetworkPolicy sees the port after the Service's DNAT (a
      // CoreDNS listening on 1053 behind a Service on 53 needs 1053 here).
      egress: [
        {
          to: network.dns.map(networkPolicyPeer),
          ports: (network.dnsPorts ?? [53]).flatMap((port) => [tcp(port), { protocol: 'UDP', port }]),
        },
      ],
    }),
    policy(tenant, 'api', 'api', selectorLabels(tenant, 'api'), {
      ingress: [
        { _from: network.ingressController.map(networkPolicyPeer), ports: [tcp(PORTS.http)] },
        // Workers call the API's internal endpoints (with the generated internal token).
        { _from: pods(tenant, 'worker'), ports: [tcp(PORTS.http)] },
        // The operator reads /internal/status and asks for the owner invite (same token). An
        // empty `from` would allow every source, so no operator peers means no rule.
        ...(network.operator && network.operator.length > 0
          ? [{ _from: network.operator.map(networkPolicyPeer), ports: [tcp(PORTS.http)] }]
          : []),
        metricsIngress(config),
      ],
      egress: [
        ...redisEgress(tenant),
        ...postgresEgress(tenant, config),
        ...serviceExtraEgress(tenant, config),
        // The SMTP relay of spec.email, inside the cluster or out.
        ...(tenant.spec.email
          ? [{ to: ANYWHERE, ports: [tcp(tenant.spec.email.port ?? SMTP_PORTS[tenant.spec.email.tls])] }]
          : []),
        // The OpenID Connect provider of spec.sso (discovery, JWKS, token and userinfo endpoints).
        ...(tenant.spec.sso ? [{ to: ANYWHERE, ports: [tcp(urlPort(tenant.spec.sso.issuer))] }] : []),
      ],
    }),
    policy(tenant, 'worker', 'worker', selectorLabels(tenant, 'worker'), {
      ingress: [metricsIngress(config)],
      egress: [
        { to: pods(tenant, 'api'), ports: [tcp(PORTS.http)] },
        ...redisEgress(tenant),
        ...postgresEgress(tenant, config),
        ...serviceExtraEgress(tenant, config),
        // WhatsApp (443 web socket, 5222 XMPP-style socket), media, Meta's Graph API, webhooks.
        { to: INTERNET, ports: network.workerInternetPorts.map(tcp) },
      ],
    }),
    policy(tenant, 'migrations', 'migrations', selectorLabels(tenant, 'migrations'), {
      egress: postgresEgress(tenant, config),
    }),
  ];
  if (tenant.spec.redis.mode === 'sentinel') {
    // Redis: clients, replication (replica -> primary) and Sentinel's checks; the start script
    // asks the Sentinels and the other Redis pods for the primary.
    policies.push(
      policy(tenant, 'redis', 'redis', selectorLabels(tenant, 'redis'), {
        ingress: [{ _from: redisClients, ports: [tcp(PORTS.redis)] }],
        egress: [
          { to: pods(tenant, 'redis'), ports: [tcp(PORTS.redis)] },
          { to: pods(tenant, 'sentinel'), ports: [tcp(PORTS.sentinel)] },
        ],
      }),
      policy(tenant, 'sentinel', 'sentinel', selectorLabels(tenant, 'sentinel'), {
        ingress: [{ _from: redisClients, ports: [tcp(PORTS.sentinel)] }],
        egress: [
          { to: pods(tenant, 'redis'), ports: [tcp(PORTS.redis)] },
          { to: pods(tenant, 'sentinel'), ports: [tcp(PORTS.sentinel)] },
        ],
      }),
    );
  }
  return policies;
}

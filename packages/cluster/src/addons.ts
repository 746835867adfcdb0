import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequestOk } from '@switchboard/envtest';
import { CLUSTER_IMAGES } from './images.ts';
import { CLUSTER_DOMAIN, NETWORK, PORTS } from './network.ts';

/** A manifest: enough of a Kubernetes object to apply it. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

// The kinds this package applies, with their plural resource names.
const RESOURCES: Record<string, string> = {
  Namespace: 'namespaces',
  ServiceAccount: 'serviceaccounts',
  ConfigMap: 'configmaps',
  Service: 'services',
  Pod: 'pods',
  Deployment: 'deployments',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  IngressClass: 'ingressclasses',
  Ingress: 'ingresses',
  NetworkPolicy: 'networkpolicies',
};

/** The API path of one object (namespaced or not). */
export function objectPath(manifest: Manifest): string {
  const resource = RESOURCES[manifest.kind];
  if (!resource) throw new Error(`objectPath: no resource known for kind ${manifest.kind}`);
  const base = manifest.apiVersion.includes('/')
    ? `/apis/${manifest.apiVersion}`
    : `/api/${manifest.apiVersion}`;
  const ns = manifest.metadata.namespace ? `/namespaces/${manifest.metadata.namespace}` : '';
  return `${base}${ns}/${resource}/${manifest.metadata.name}`;
}

/** Server-side applies each manifest, in order, as field manager `switchboard-cluster`. */
export async function apply(kc: KubeConfig, manifests: readonly Manifest[]): Promise<void> {
  for (const manifest of manifests) {
    await kubeRequestOk(kc, {
      method: 'PATCH',
      path: `${objectPath(manifest)}?fieldManager=switchboard-cluster&force=true`,
      body: JSON.stringify(manifest),
      contentType: 'application/apply-patch+yaml',
    });
  }
}

const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** CoreDNS in kube-system: the cluster's names, Service kube-dns at the kubelet's clusterDNS IP. */
export function corednsManifests(): Manifest[] {
  const labels = { 'k8s-app': 'kube-dns' };
  // No `forward`: nothing outside the cluster may be queried from here, so other names fail fast.
  const corefile = `.:1053 {
    errors
    health :8080
    ready :8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    reload
    loadbalance
}
`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      data: { Corefile: corefile },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            priorityClassName: 'system-cluster-critical',
            securityContext: { runAsUser: 65532, runAsGroup: 65532 },
            containers: [
              {
                name: 'coredns',
                image: CLUSTER_IMAGES.coredns,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                // An unprivileged port inside the pod; the Service maps 53 to it.
                ports: [
                  { name: 'dns', containerPort: 1053, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 1053, protocol: 'TCP' },
                ],
                securityContext: restricted,
                resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                livenessProbe: {
                  httpGet: { path: '/health', port: 8080 },
                  periodSeconds: 10,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        selector: labels,
        clusterIP: NETWORK.dnsServiceIp,
        ports: [
          { name: 'dns', port: 53, targetPort: 1053, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, targetPort: 1053, protocol: 'TCP' },
        ],
      },
    },
  ];
}

/**
 * Traefik as the Ingress controller: a Deployment on the host's network namespace whose web
 * entry point listens on 127.0.0.1:<ingressHttp> only, watching Ingresses of class `traefik`
 * (the default class). It forwards to the pods' addresses on the bridge.
 */
export function traefikManifests(): Manifest[] {
  const labels = { 'app.kubernetes.io/name': 'traefik' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ingress' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'traefik', namespace: 'ingress' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'switchboard:traefik' },
      rules: [
        {
          apiGroups: [''],
          resources: ['services', 'endpoints', 'secrets', 'nodes'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        {
          apiGroups: ['networking.k8s.io', 'extensions'],
          resources: ['ingresses', 'ingressclasses'],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: ['networking.k8s.io', 'extensions'],
          resources: ['ingresses/status'],
          verbs: ['update'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'switchboard:traefik' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'switchboard:traefik' },
      subjects: [{ kind: 'ServiceAccount', name: 'traefik', namespace: 'ingress' }],
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: {
        name: 'traefik',
        annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' },
      },
      spec: { controller: 'traefik.io/ingress-controller' },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'traefik', namespace: 'ingress', labels },
      spec: {
        replicas: 1,
        // One host port: the old pod must be gone before a new one can listen.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'traefik',
            hostNetwork: true,
            dnsPolicy: 'ClusterFirstWithHostNet',
            securityContext: { runAsUser: 65532, runAsGroup: 65532 },
            containers: [
              {
                name: 'traefik',
                image: CLUSTER_IMAGES.traefik,
                imagePullPolicy: 'Never',
                args: [
                  `--entryPoints.web.address=127.0.0.1:${PORTS.ingressHttp}`,
                  `--entryPoints.ping.address=127.0.0.1:${PORTS.ingressPing}`,
                  '--ping=true',
                  '--ping.entryPoint=ping',
                  '--providers.kubernetesIngress=true',
                  '--providers.kubernetesIngress.ingressClass=traefik',
                  '--api.dashboard=false',
                  '--global.checkNewVersion=false',
                  '--global.sendAnonymousUsage=false',
                  '--log.level=INFO',
                ],
                securityContext: restricted,
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                readinessProbe: {
                  httpGet: { host: '127.0.0.1', path: '/ping', port: PORTS.ingressPing },
                  periodSeconds: 2,
                },
              },
            ],
          },
        },
      },
    },
  ];
}

/** What kube-router's NetworkPolicy controller reads (it runs on the host with this user). */
export function kubeRouterManifests(): Manifest[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'switchboard:kube-router' },
      rules: [
        {
          apiGroups: [''],
          resources: ['namespaces', 'pods', 'services', 'nodes', 'endpoints'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'update'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'switchboard:kube-router' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'switchboard:kube-router',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:kube-router' }],
    },
  ];
}

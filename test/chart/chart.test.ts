// The Helm chart (charts/switchboard) against the real helm binary and a real kube-apiserver:
// lint, values schema, server-side dry run in both RBAC modes, the exact RBAC rules, the
// operator Deployment's shape, the CRD copy, and the RBAC applied for real and exercised as the
// operator's ServiceAccount.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  createTestNamespace,
  EnvtestError,
  helmTemplateAndDryRun,
  impersonate,
  installCrds,
  kubeRequest,
  kubeRequestOk,
  type TestNamespace,
  useControlPlane,
} from '@switchboard/envtest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const CHART = join(REPO_ROOT, 'charts/switchboard');
const CHART_CRDS = join(CHART, 'crds');
const CRD_FILE = 'switchboard.dev_whatsapptenants.yaml';
const APP_VERSION = '0.1.0';

const { kubeConfig, kubeconfigPath, tools } = useControlPlane();

// ---------------------------------------------------------------------------------------------
// What the chart must grant: exactly this, in this order (templates/rbac.yaml and the README's
// RBAC table say why each rule is there).

// No `update` (PUT): the operator writes children with server-side apply (a patch) only.
/** Where the platform Postgres is: required with platformPostgresSecret. */
const PLATFORM_POSTGRES = {
  platformPostgresSecret: 'platform-postgres',
  tenantStack: { network: { postgres: { peers: [{ namespace: 'switchboard-system' }], port: 5432 } } },
};

const CRUD = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

const EXPECTED_CLUSTER_RULES = [
  {
    apiGroups: ['switchboard.dev'],
    resources: ['whatsapptenants'],
    verbs: ['get', 'list', 'watch', 'update', 'patch'],
  },
  {
    apiGroups: ['switchboard.dev'],
    resources: ['whatsapptenants/status'],
    verbs: ['get', 'update', 'patch'],
  },
  { apiGroups: ['switchboard.dev'], resources: ['whatsapptenants/finalizers'], verbs: ['update'] },
  { apiGroups: [''], resources: ['configmaps', 'secrets', 'services', 'serviceaccounts'], verbs: CRUD },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets'], verbs: CRUD },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: CRUD },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: CRUD },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'networkpolicies'], verbs: CRUD },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: CRUD },
  { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors', 'prometheusrules'], verbs: CRUD },
];

const LEASE_RULE = {
  apiGroups: ['coordination.k8s.io'],
  resources: ['leases'],
  verbs: ['get', 'create', 'update'],
};

// ---------------------------------------------------------------------------------------------
// Helpers

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

interface Binding extends K8sObject {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: { kind: string; name: string; namespace: string }[];
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runTool(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(file, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

// helm and kubectl with private homes, so nothing of the user's configuration leaks in.
let workDir: string;
function toolEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: workDir,
    HELM_CACHE_HOME: join(workDir, 'helm-cache'),
    HELM_CONFIG_HOME: join(workDir, 'helm-config'),
    HELM_DATA_HOME: join(workDir, 'helm-data'),
    KUBECONFIG: kubeconfigPath,
  };
}

function helm(args: string[]): Promise<RunResult> {
  return runTool(tools.helm, args, toolEnv());
}

let valuesFileCount = 0;
async function valuesFile(values: Record<string, unknown>): Promise<string> {
  valuesFileCount += 1;
  const file = join(workDir, `values-${valuesFileCount}.yaml`);
  await writeFile(file, stringify(values));
  return file;
}

function objectsOf(manifest: string): K8sObject[] {
  return parseAllDocuments(manifest)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

function find<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string, name?: string): T[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name)) as T[];
}

function one<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string, name?: string): T {
  const found = find<T>(objects, kind, name);
  expect(found, `exactly one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0]!;
}

/** The names a release gives its objects (templates/_helpers.tpl). */
function namesFor(release: string) {
  const fullname = release.includes('switchboard') ? release : `${release}-switchboard`;
  const operator = `${fullname}-operator`;
  return { operator, serviceAccount: operator, ownNamespaceRole: `${operator}-own-namespace` };
}

interface AccessCheck {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

async function canI(kc: KubeConfig, check: AccessCheck): Promise<boolean> {
  const review = await kubeRequestOk<{ status: { allowed: boolean } }>(kc, {
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { group: '', ...check } },
    },
  });
  return review.status.allowed;
}

function describeCheck(check: AccessCheck): string {
  const resource = [check.resource, check.subresource].filter(Boolean).join('/');
  const group = check.group ? `.${check.group}` : '';
  const where = check.namespace ? ` in ${check.namespace}` : ' (cluster)';
  return `${check.verb} ${resource}${group}${check.name ? ` ${check.name}` : ''}${where}`;
}

/** RBAC is cached in the authorizer: wait until a freshly applied binding takes effect. */
async function waitUntilAllowed(kc: KubeConfig, check: AccessCheck): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await canI(kc, check))) {
    if (Date.now() > deadline) throw new Error(`still not allowed after 20 s: ${describeCheck(check)}`);
    await sleep(200);
  }
}

/** Every check's answer, as a map from its description, to compare against the expectation at once. */
async function answers(kc: KubeConfig, checks: AccessCheck[]): Promise<Record<string, boolean>> {
  const entries = await Promise.all(
    checks.map(async (check) => [describeCheck(check), await canI(kc, check)] as const),
  );
  return Object.fromEntries(entries);
}

function kubectl(args: string[]): Promise<RunResult> {
  return runTool(tools.kubectl, [...args, '--cache-dir', join(workDir, 'kube-cache')], toolEnv());
}

/** `helm template` for the API server's own version, as `helm install` renders against it. */
async function template(
  release: string,
  namespace: string,
  values: Record<string, unknown>,
): Promise<string> {
  const version = await kubeRequestOk<{ gitVersion: string }>(kubeConfig, { path: '/version' });
  const rendered = await helm([
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    '--kube-version',
    version.gitVersion,
    '--values',
    await valuesFile(values),
  ]);
  expect(rendered.stderr).toBe('');
  expect(rendered.code).toBe(0);
  return rendered.stdout;
}

/**
 * Sends objects to the API server with server-side apply, as a dry run (defaulting, schema and
 * admission, nothing stored) or for real. Like helmTemplateAndDryRun, but without kubectl's
 * --namespace: with it kubectl refuses objects of other namespaces, and in the watchNamespaces
 * mode the chart puts a RoleBinding in each watched namespace (helm install has no such limit).
 * Every namespaced object of the chart names its namespace, so none is left to a default.
 */
async function serverSideApply(objects: K8sObject[], options: { dryRun: boolean }): Promise<string> {
  valuesFileCount += 1;
  const file = join(workDir, `manifest-${valuesFileCount}.yaml`);
  await writeFile(file, objects.map((o) => `---\n${stringify(o)}`).join(''));
  const applied = await kubectl([
    'apply',
    '--server-side',
    ...(options.dryRun ? ['--dry-run=server'] : []),
    '--validate=strict',
    '--field-manager=switchboard-chart-test',
    '--filename',
    file,
  ]);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  return applied.stdout;
}

const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/** Applies the chart's RBAC objects for real, as `helm install` would. */
async function applyRbac(manifest: string): Promise<K8sObject[]> {
  const rbac = objectsOf(manifest).filter((o) => RBAC_KINDS.has(o.kind));
  await serverSideApply(rbac, { dryRun: false });
  return rbac;
}

async function deleteClusterScoped(objects: K8sObject[]): Promise<void> {
  for (const object of objects) {
    const plural = object.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings';
    if (object.kind !== 'ClusterRole' && object.kind !== 'ClusterRoleBinding') continue;
    await kubeRequest(kubeConfig, {
      method: 'DELETE',
      path: `/apis/rbac.authorization.k8s.io/v1/${plural}/${object.metadata.name}`,
    });
  }
}

function probeDeployment(name: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: 'registry.example.com/probe:1' }] },
      },
    },
  };
}

/** The chart's example tenant, moved into `namespace`. */
async function exampleTenant(namespace: string): Promise<K8sObject> {
  const tenant = parse(await readFile(join(CHART, 'examples/tenant-acme.yaml'), 'utf8')) as K8sObject;
  tenant.metadata.namespace = namespace;
  return tenant;
}

// ---------------------------------------------------------------------------------------------

const namespaces: TestNamespace[] = [];
async function namespace(prefix: string): Promise<string> {
  const created = await createTestNamespace(kubeConfig, prefix);
  namespaces.push(created);
  return created.name;
}

let releaseNs: string;
let watchedNs: string;
let secondWatchedNs: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'switchboard-chart-test-'));
  await mkdir(join(workDir, 'helm-config'), { recursive: true });
  await installCrds(kubeConfig, CHART_CRDS);
  [releaseNs, watchedNs, secondWatchedNs] = await Promise.all([
    namespace('chart-release'),
    namespace('chart-watched'),
    namespace('chart-watched-2'),
  ]);
});

afterAll(async () => {
  await Promise.all(namespaces.map((ns) => ns.delete()));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('helm lint --strict', () => {
  it.each([
    ['default values', {}],
    [
      'watchNamespaces, the platform Postgres Secret and the ServiceMonitor set',
      {
        watchNamespaces: ['tenants-a', 'tenants-b'],
        ...PLATFORM_POSTGRES,
        serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
      },
    ],
  ])('passes with %s', async (_label, values) => {
    const lint = await helm(['lint', '--strict', CHART, '--values', await valuesFile(values)]);
    expect(lint.stderr).toBe('');
    expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(lint.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(lint.code).toBe(0);
  });
});

describe('values.schema.json', () => {
  it.each([
    ['a string for replicas', { replicas: 'two' }, "at '/replicas': got string, want integer"],
    ['an unknown top-level key', { replica: 2 }, "additional properties 'replica' not allowed"],
    [
      'an unknown nested key',
      { image: { repository: 'r', tag: '', pullPolicy: 'IfNotPresent', digest: 'sha256:0' } },
      "additional properties 'digest' not allowed",
    ],
    ['a namespace that is no DNS label', { watchNamespaces: ['Tenants_A'] }, "at '/watchNamespaces/0'"],
    [
      'a pull policy Kubernetes does not know',
      { image: { pullPolicy: 'Sometimes' } },
      "at '/image/pullPolicy'",
    ],
    ['an unknown log level', { logLevel: 'verbose' }, "at '/logLevel'"],
    ['a metrics port out of range', { metrics: { port: 70000 } }, "at '/metrics/port'"],
  ])('rejects %s, naming it', async (_label, values, message) => {
    const rendered = helmTemplateAndDryRun(kubeConfig, { chart: CHART, namespace: releaseNs, values, tools });
    await expect(rendered).rejects.toBeInstanceOf(EnvtestError);
    await expect(rendered).rejects.toMatchObject({ code: 'HELM_TEMPLATE_FAILED' });
    await expect(rendered).rejects.toThrow(message);
  });

  it('accepts the defaults unchanged (the schema matches values.yaml)', async () => {
    const rendered = await helm(['template', 'x', CHART, '--namespace', releaseNs]);
    expect(rendered.stderr).toBe('');
    expect(rendered.code).toBe(0);
  });
});

describe('the chart crds/ and examples/', () => {
  it('holds a byte-identical copy of crds/switchboard.dev_whatsapptenants.yaml', async () => {
    const chartCopy = await readFile(join(CHART_CRDS, CRD_FILE));
    const generated = await readFile(join(REPO_ROOT, 'crds', CRD_FILE));
    expect(chartCopy.length).toBeGreaterThan(0);
    expect(chartCopy.equals(generated)).toBe(true);
  });

  it('is what the generator writes today (no drift from the zod schemas)', async () => {
    const check = await runTool(
      process.execPath,
      [
        join(REPO_ROOT, 'operator/src/api/generate-crd.ts'),
        '--check',
        '--out',
        join(REPO_ROOT, 'crds'),
        '--out',
        CHART_CRDS,
      ],
      { PATH: process.env.PATH },
    );
    // On drift it names the stale file ("CRD out of date ...: charts/switchboard/crds/...") and exits 1.
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('ships the operator example tenant unchanged, and the API server accepts it', async () => {
    const chartExample = await readFile(join(CHART, 'examples/tenant-acme.yaml'));
    const operatorExample = await readFile(join(REPO_ROOT, 'docs/examples/tenant-acme.yaml'));
    expect(chartExample.equals(operatorExample)).toBe(true);
    const tenant = await exampleTenant(watchedNs);
    const created = await kubeRequest(kubeConfig, {
      method: 'POST',
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${watchedNs}/whatsapptenants?dryRun=All`,
      body: tenant,
    });
    expect(created.text).toContain('"kind":"WhatsAppTenant"');
    expect(created.status).toBe(201);
  });
});

describe('helmTemplateAndDryRun (the envtest helper)', () => {
  it('accepts the default install, CRDs included', async () => {
    // The default watches the namespace `tenants`, which must exist before install. The shared
    // control plane is torn down with the run; other files may use the same namespace.
    await kubeRequest(kubeConfig, {
      method: 'POST',
      path: '/api/v1/namespaces',
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenants' } },
    });
    const result = await helmTemplateAndDryRun(kubeConfig, {
      chart: CHART,
      namespace: releaseNs,
      releaseName: 'switchboard',
      includeCrds: true,
      tools,
    });
    const objects = objectsOf(result.manifest);
    const kinds = objects.map((o) => o.kind);
    expect(kinds).toContain('CustomResourceDefinition');
    // By default the operator is bound in the namespace `tenants` only: nothing cluster-wide.
    expect(kinds).not.toContain('ClusterRoleBinding');
    expect(
      objects.filter((o) => o.kind === 'RoleBinding').map((o) => o.metadata.namespace ?? releaseNs),
    ).toEqual(expect.arrayContaining(['tenants', releaseNs]));
    expect(kinds).toContain('NetworkPolicy');
    // Counted from the parsed objects, not result.objectCount: the CRD file's generated header
    // (a comment-only document before its `---`) is counted there as an object.
    expect(result.output.match(/serverside-applied \(server dry run\)/g)).toHaveLength(objects.length);
  });
});

describe.each([
  { mode: 'all namespaces (ClusterRoleBinding)', watch: false },
  { mode: 'watched namespaces (a RoleBinding in each)', watch: true },
])('rendered for $mode', ({ watch }) => {
  let objects: K8sObject[];
  let release: string;
  let watchNamespaces: string[];

  beforeAll(async () => {
    release = watch ? 'switchboard' : 'platform';
    // The release namespace is watched too in the namespaced mode: it then holds both the
    // watched-namespace binding and the own-namespace binding, which must not collide.
    watchNamespaces = watch ? [watchedNs, secondWatchedNs, releaseNs] : [];
    objects = objectsOf(await template(release, releaseNs, { watchNamespaces, ...PLATFORM_POSTGRES }));
    // Every object goes through the real API server's validation (server-side dry run).
    const output = await serverSideApply(objects, { dryRun: true });
    expect(output.match(/serverside-applied \(server dry run\)/g)).toHaveLength(objects.length);
  });

  it('renders each object once, namespaced objects in the release namespace', () => {
    const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const o of objects) {
      if (['ClusterRole', 'ClusterRoleBinding'].includes(o.kind))
        expect(o.metadata.namespace).toBeUndefined();
      else if (o.kind === 'RoleBinding' && o.metadata.name === namesFor(release).operator)
        expect(watchNamespaces).toContain(o.metadata.namespace);
      else expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(releaseNs);
    }
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'Deployment',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
        ...(watch ? watchNamespaces.map(() => 'RoleBinding') : ['ClusterRoleBinding']),
      ].sort(),
    );
  });

  it('grants exactly the operator rules in the ClusterRole, and leases plus one Secret in the Role', () => {
    const names = namesFor(release);
    const clusterRole = one<K8sObject & { rules: Rule[] }>(objects, 'ClusterRole', names.operator);
    expect(clusterRole.rules).toEqual(EXPECTED_CLUSTER_RULES);
    const role = one<K8sObject & { rules: Rule[] }>(objects, 'Role', names.ownNamespaceRole);
    expect(role.rules).toEqual([
      LEASE_RULE,
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['platform-postgres'], verbs: ['get'] },
    ]);
    for (const rule of [...clusterRole.rules, ...role.rules]) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames ?? []])
        expect(field).not.toContain('*');
    }
  });

  it('binds the ClusterRole cluster-wide or per watched namespace, and the Role in the release namespace', () => {
    const names = namesFor(release);
    const subject = [{ kind: 'ServiceAccount', name: names.serviceAccount, namespace: releaseNs }];
    const clusterBindings = find<Binding>(objects, 'ClusterRoleBinding');
    const toClusterRole = find<Binding>(objects, 'RoleBinding').filter(
      (b) => b.roleRef.kind === 'ClusterRole',
    );
    if (watch) {
      expect(clusterBindings).toEqual([]);
      expect(toClusterRole.map((b) => b.metadata.namespace).sort()).toEqual([...watchNamespaces].sort());
    } else {
      expect(toClusterRole).toEqual([]);
      expect(clusterBindings).toHaveLength(1);
    }
    for (const binding of [...clusterBindings, ...toClusterRole]) {
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: names.operator,
      });
      expect(binding.subjects).toEqual(subject);
    }
    const own = one<Binding>(objects, 'RoleBinding', names.ownNamespaceRole);
    expect(own.metadata.namespace).toBe(releaseNs);
    expect(own.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: names.ownNamespaceRole,
    });
    expect(own.subjects).toEqual(subject);
    const serviceAccount = one(objects, 'ServiceAccount', names.serviceAccount);
    expect(serviceAccount.automountServiceAccountToken).toBe(true);
  });

  it('runs the operator as a restricted, highly available Deployment', () => {
    const names = namesFor(release);
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest, checked field by field below
    const deployment = one(objects, 'Deployment', names.operator) as any;
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.serviceAccountName).toBe(names.serviceAccount);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers).toHaveLength(1);
    const container = pod.containers[0];
    expect(container.image).toBe(`ghcr.io/switchboard/operator:${APP_VERSION}`);
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.ports).toEqual([
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '256Mi' },
    });
    // A read-only root filesystem needs a writable /tmp.
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);

    const podLabels = deployment.spec.template.metadata.labels;
    const selector = deployment.spec.selector.matchLabels;
    expect(podLabels).toMatchObject(selector);
    const antiAffinity = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(antiAffinity).toEqual([
      {
        weight: 100,
        podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } },
      },
    ]);
    expect(pod.topologySpreadConstraints[0]).toMatchObject({
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: selector },
    });

    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const pdb = one(objects, 'PodDisruptionBudget', names.operator) as any;
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(selector);
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const service = one(objects, 'Service', `${names.operator}-metrics`) as any;
    expect(service.spec.selector).toEqual(selector);
    expect(service.spec.ports).toEqual([
      { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
  });

  it('gives the operator its configuration through the environment', () => {
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const deployment = one(objects, 'Deployment', namesFor(release).operator) as any;
    const env: { name: string; value?: string; valueFrom?: unknown }[] =
      deployment.spec.template.spec.containers[0].env;
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    expect(env.map((e) => e.name)).toHaveLength(new Set(env.map((e) => e.name)).size);
    expect(byName.WATCH_NAMESPACES?.value).toBe(watchNamespaces.join(','));
    expect(byName.LEADER_ELECTION_NAMESPACE?.value).toBe(releaseNs);
    expect(byName.POD_NAME?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(byName.POD_NAMESPACE?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(byName.OPERATOR_API_IMAGE?.value).toBe(`ghcr.io/switchboard/api:${APP_VERSION}`);
    expect(byName.OPERATOR_WORKER_IMAGE?.value).toBe(`ghcr.io/switchboard/worker:${APP_VERSION}`);
    expect(byName.OPERATOR_REDIS_IMAGE?.value).toBe('redis:7.4-alpine');
    expect(byName.PLATFORM_POSTGRES_SECRET?.value).toBe('platform-postgres');
    expect(byName.LOG_LEVEL?.value).toBe('info');
    expect(byName.METRICS_PORT?.value).toBe('8080');
    expect(byName.HEALTH_PORT?.value).toBe('8081');
    expect(byName.KUBE_API_QPS?.value).toBe('400');
    expect(byName.KUBE_API_BURST?.value).toBe('800');
    expect(byName.OPERATOR_CLUSTER_DOMAIN?.value).toBe('cluster.local');
    expect(byName.OPERATOR_TENANT_LOG_LEVEL?.value).toBe('info');
    expect(JSON.parse(byName.OPERATOR_NETWORK?.value ?? 'null')).toEqual({
      ingressController: [
        { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
      ],
      prometheus: [{ namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } }],
      dns: [{ namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } }],
      dnsPorts: [53],
      postgres: { peers: [{ namespace: 'switchboard-system' }], port: 5432 },
      workerInternetPorts: [443, 5222],
    });
  });
});

describe('optional parts', () => {
  async function render(values: Record<string, unknown>): Promise<K8sObject[]> {
    return objectsOf(await template('switchboard', releaseNs, values));
  }

  it('grants no Secret in the release namespace without platformPostgresSecret', async () => {
    const objects = await render({});
    const role = one<K8sObject & { rules: Rule[] }>(objects, 'Role');
    expect(role.rules).toEqual([LEASE_RULE]);
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const deployment = one(objects, 'Deployment') as any;
    const envNames = deployment.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(envNames).not.toContain('PLATFORM_POSTGRES_SECRET');
  });

  it('renders the ServiceMonitor only when enabled, scraping the metrics Service', async () => {
    expect(find(await render({}), 'ServiceMonitor')).toEqual([]);
    const objects = await render({ serviceMonitor: { enabled: true, labels: { release: 'prom' } } });
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const monitor = one(objects, 'ServiceMonitor') as any;
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const service = one(objects, 'Service') as any;
    expect(monitor.metadata.labels.release).toBe('prom');
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: [releaseNs] });
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' },
    ]);
  });

  it("gives the operator its own NetworkPolicy: metrics and health in, DNS, API server, the tenants' APIs and Postgres out", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const policyOf = (objects: K8sObject[]) => one(objects, 'NetworkPolicy') as any;
    const objects = await render(PLATFORM_POSTGRES);
    const policy = policyOf(objects);
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const deployment = one(objects, 'Deployment') as any;
    expect(deployment.spec.template.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([
      {
        ports: [
          { port: 8080, protocol: 'TCP' },
          { port: 8081, protocol: 'TCP' },
        ],
      },
    ]);
    const dns = {
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ],
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    };
    const apiServer = {
      to: [{ ipBlock: { cidr: '10.0.0.1/32' } }],
      ports: [{ port: 6443, protocol: 'TCP' }],
    };
    const tenantApis = {
      to: [
        {
          namespaceSelector: {},
          podSelector: {
            matchLabels: {
              'app.kubernetes.io/managed-by': 'switchboard-operator',
              'app.kubernetes.io/component': 'api',
            },
          },
        },
      ],
      ports: [{ port: 8080, protocol: 'TCP' }],
    };
    const narrowed = {
      networkPolicy: { apiServer: [{ cidr: '10.0.0.1/32' }], apiServerPorts: [6443] },
      tenantStack: { network: { postgres: { peers: [{ cidr: '10.9.0.5/32' }], port: 5433 } } },
    };
    expect(policyOf(await render({ ...narrowed, platformPostgresSecret: 'pg' })).spec.egress).toEqual([
      dns,
      apiServer,
      tenantApis,
      { to: [{ ipBlock: { cidr: '10.9.0.5/32' } }], ports: [{ port: 5433, protocol: 'TCP' }] },
    ]);
    // Without managed databases the operator never talks to Postgres.
    expect(policyOf(await render(narrowed)).spec.egress).toEqual([dns, apiServer, tenantApis]);
    // DNS on the DNS pods' own ports (after the kube-dns Service's DNAT).
    expect(
      policyOf(await render({ ...narrowed, tenantStack: { network: { dnsPorts: [1053] } } })).spec.egress[0],
    ).toEqual({
      ...dns,
      ports: [
        { port: 1053, protocol: 'UDP' },
        { port: 1053, protocol: 'TCP' },
      ],
    });
    // A rule with no peers would allow every address: none is rendered without peers.
    expect(policyOf(await render({ tenantStack: { network: { dns: [] } } })).spec.egress).toEqual([
      {
        to: [{ ipBlock: { cidr: '0.0.0.0/0' } }],
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
      },
      tenantApis,
    ]);
    expect(find(await render({ networkPolicy: { enabled: false } }), 'NetworkPolicy')).toEqual([]);
  });

  it('refuses platformPostgresSecret without saying where the platform Postgres is', async () => {
    const rendered = await helm([
      'template',
      'switchboard',
      CHART,
      '--namespace',
      releaseNs,
      '--values',
      await valuesFile({ platformPostgresSecret: 'platform-postgres' }),
    ]);
    expect(rendered.code).not.toBe(0);
    expect(rendered.stderr).toContain('tenantStack.network.postgres.peers is empty');
  });

  it('uses an image tag from values over the appVersion', async () => {
    const objects = await render({
      image: { tag: '9.9.9' },
      tenantStack: { images: { api: { tag: '1.2.3' } } },
    });
    // biome-ignore lint/suspicious/noExplicitAny: a rendered manifest
    const container = (one(objects, 'Deployment') as any).spec.template.spec.containers[0];
    expect(container.image).toBe('ghcr.io/switchboard/operator:9.9.9');
    const apiImage = container.env.find((e: { name: string }) => e.name === 'OPERATOR_API_IMAGE');
    expect(apiImage.value).toBe('ghcr.io/switchboard/api:1.2.3');
  });
});

// ---------------------------------------------------------------------------------------------
// The RBAC applied for real, exercised as the operator's ServiceAccount. Each mode gets its own
// release namespace, hence its own ServiceAccount: the cluster-wide binding of one mode must not
// lend the other mode permissions.

describe('the RBAC applied for real, with watchNamespaces', () => {
  let ns: { release: string; watched: string; unwatched: string };
  let asOperator: KubeConfig;
  let applied: K8sObject[] = [];
  let release: string;

  beforeAll(async () => {
    const [own, watched, unwatched] = await Promise.all([
      namespace('chart-rbac-release'),
      namespace('chart-rbac-watched'),
      namespace('chart-rbac-unwatched'),
    ]);
    ns = { release: own, watched, unwatched };
    // A release name of its own: the ClusterRole is cluster-scoped (and contains "switchboard",
    // so the objects are named <release>-operator).
    release = `switchboard-${ns.release.slice(-5)}`;
    const manifest = await template(release, ns.release, {
      watchNamespaces: [ns.watched],
      ...PLATFORM_POSTGRES,
    });
    applied = await applyRbac(manifest);
    asOperator = impersonate(kubeConfig, {
      namespace: ns.release,
      serviceAccount: namesFor(release).serviceAccount,
    });
    await waitUntilAllowed(asOperator, {
      verb: 'create',
      group: 'apps',
      resource: 'deployments',
      namespace: ns.watched,
    });
    await waitUntilAllowed(asOperator, {
      verb: 'get',
      resource: 'secrets',
      namespace: ns.release,
      name: 'platform-postgres',
    });
  });

  afterAll(() => deleteClusterScoped(applied));

  it('can create a Deployment in the watched namespace, not in another', async () => {
    const created = await kubeRequest(asOperator, {
      method: 'POST',
      path: `/apis/apps/v1/namespaces/${ns.watched}/deployments`,
      body: probeDeployment('rbac-probe'),
    });
    expect(created.status, created.text).toBe(201);
    const elsewhere = await kubeRequest(asOperator, {
      method: 'POST',
      path: `/apis/apps/v1/namespaces/${ns.unwatched}/deployments`,
      body: probeDeployment('rbac-probe'),
    });
    expect(elsewhere.status).toBe(403);
  });

  it('can patch whatsapptenants/status in the watched namespace, but not create tenants', async () => {
    const tenant = await exampleTenant(ns.watched);
    await kubeRequestOk(kubeConfig, {
      method: 'POST',
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${ns.watched}/whatsapptenants`,
      body: tenant,
    });
    const path = `/apis/switchboard.dev/v1alpha1/namespaces/${ns.watched}/whatsapptenants/${tenant.metadata.name}`;
    const patched = await kubeRequest<{ status?: { phase?: string } }>(asOperator, {
      method: 'PATCH',
      path: `${path}/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { phase: 'Provisioning', observedGeneration: 1 } },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.status?.phase).toBe('Provisioning');
    // The operator lists and watches tenants but never creates or deletes one.
    const listed = await kubeRequest(asOperator, {
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${ns.watched}/whatsapptenants`,
    });
    expect(listed.status).toBe(200);
    const created = await kubeRequest(asOperator, {
      method: 'POST',
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${ns.watched}/whatsapptenants?dryRun=All`,
      body: { ...tenant, metadata: { ...tenant.metadata, name: 'other' } },
    });
    expect(created.status).toBe(403);
  });

  it('cannot read pods or delete namespaces', async () => {
    const pods = await kubeRequest(asOperator, { path: `/api/v1/namespaces/${ns.watched}/pods` });
    expect(pods.status).toBe(403);
    // dryRun: were the chart wrong, the namespace would still not be deleted.
    const deleted = await kubeRequest(asOperator, {
      method: 'DELETE',
      path: `/api/v1/namespaces/${ns.watched}?dryRun=All`,
    });
    expect(deleted.status).toBe(403);
  });

  it('holds a Lease in its own namespace for leader election', async () => {
    const leases = `/apis/coordination.k8s.io/v1/namespaces/${ns.release}/leases`;
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'switchboard-operator' },
      spec: { holderIdentity: 'operator-0', leaseDurationSeconds: 15 },
    };
    const created = await kubeRequest<K8sObject>(asOperator, { method: 'POST', path: leases, body: lease });
    expect(created.status, created.text).toBe(201);
    const got = await kubeRequest<K8sObject>(asOperator, { path: `${leases}/switchboard-operator` });
    expect(got.status).toBe(200);
    const renewed = await kubeRequest(asOperator, {
      method: 'PUT',
      path: `${leases}/switchboard-operator`,
      body: { ...got.body, spec: { holderIdentity: 'operator-1', leaseDurationSeconds: 15 } },
    });
    expect(renewed.status, renewed.text).toBe(200);
    const elsewhere = await kubeRequest(asOperator, {
      method: 'POST',
      path: `/apis/coordination.k8s.io/v1/namespaces/${ns.watched}/leases`,
      body: lease,
    });
    expect(elsewhere.status).toBe(403);
  });

  it('reads the platform Postgres Secret by name, and no other Secret of its namespace', async () => {
    for (const name of ['platform-postgres', 'something-else']) {
      await kubeRequestOk(kubeConfig, {
        method: 'POST',
        path: `/api/v1/namespaces/${ns.release}/secrets`,
        body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { url: 'postgres://x' } },
      });
    }
    const secrets = `/api/v1/namespaces/${ns.release}/secrets`;
    const platform = await kubeRequest<{ data?: Record<string, string> }>(asOperator, {
      path: `${secrets}/platform-postgres`,
    });
    expect(platform.status).toBe(200);
    expect(Buffer.from(platform.body.data?.url ?? '', 'base64').toString()).toBe('postgres://x');
    expect((await kubeRequest(asOperator, { path: `${secrets}/something-else` })).status).toBe(403);
    expect((await kubeRequest(asOperator, { path: secrets })).status).toBe(403);
  });

  it('is allowed exactly what the rules say, per namespace', async () => {
    const w = ns.watched;
    const allowed: AccessCheck[] = [
      ...['get', 'list', 'watch', 'update', 'patch'].map((verb) => ({
        verb,
        group: 'switchboard.dev',
        resource: 'whatsapptenants',
        namespace: w,
      })),
      {
        verb: 'update',
        group: 'switchboard.dev',
        resource: 'whatsapptenants',
        subresource: 'finalizers',
        namespace: w,
      },
      ...CRUD.flatMap((verb) =>
        [
          { group: '', resource: 'configmaps' },
          { group: '', resource: 'secrets' },
          { group: '', resource: 'services' },
          { group: '', resource: 'serviceaccounts' },
          { group: 'apps', resource: 'statefulsets' },
          { group: 'batch', resource: 'jobs' },
          { group: 'policy', resource: 'poddisruptionbudgets' },
          { group: 'networking.k8s.io', resource: 'ingresses' },
          { group: 'networking.k8s.io', resource: 'networkpolicies' },
          { group: 'autoscaling', resource: 'horizontalpodautoscalers' },
          { group: 'monitoring.coreos.com', resource: 'servicemonitors' },
          { group: 'monitoring.coreos.com', resource: 'prometheusrules' },
        ].map((target) => ({ verb, ...target, namespace: w })),
      ),
      { verb: 'create', resource: 'events', namespace: w },
      { verb: 'patch', group: 'events.k8s.io', resource: 'events', namespace: w },
    ];
    const denied: AccessCheck[] = [
      { verb: 'create', group: 'switchboard.dev', resource: 'whatsapptenants', namespace: w },
      { verb: 'delete', group: 'switchboard.dev', resource: 'whatsapptenants', namespace: w },
      { verb: 'list', group: 'switchboard.dev', resource: 'whatsapptenants' },
      { verb: 'get', resource: 'pods', namespace: w },
      { verb: 'create', resource: 'pods', subresource: 'exec', namespace: w },
      { verb: 'get', resource: 'pods', subresource: 'log', namespace: w },
      { verb: 'deletecollection', resource: 'secrets', namespace: w },
      { verb: 'list', resource: 'events', namespace: w },
      { verb: 'get', resource: 'secrets', namespace: ns.unwatched, name: 'platform-postgres' },
      { verb: 'list', group: 'apps', resource: 'deployments', namespace: ns.unwatched },
      { verb: 'list', group: 'apps', resource: 'deployments' },
      { verb: 'delete', resource: 'namespaces', name: w },
      { verb: 'create', resource: 'namespaces' },
      { verb: 'list', resource: 'nodes' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace: w },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'create', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
      { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', namespace: ns.release },
      { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: w },
      { verb: 'impersonate', resource: 'serviceaccounts' },
      { verb: 'update', resource: 'secrets', namespace: w },
      { verb: 'update', group: 'apps', resource: 'deployments', namespace: w },
      { verb: 'get', resource: 'secrets', namespace: 'kube-system' },
      { verb: 'list', resource: 'secrets' },
    ];
    const expected = Object.fromEntries([
      ...allowed.map((check) => [describeCheck(check), true] as const),
      ...denied.map((check) => [describeCheck(check), false] as const),
    ]);
    expect(await answers(asOperator, [...allowed, ...denied])).toEqual(expected);
  });
});

describe('the RBAC applied for real, watching all namespaces', () => {
  let own: string;
  let tenantNs: string;
  let asOperator: KubeConfig;
  let applied: K8sObject[] = [];
  let release: string;

  beforeAll(async () => {
    [own, tenantNs] = await Promise.all([namespace('chart-rbac-cluster'), namespace('chart-rbac-any')]);
    // A release name of its own: the ClusterRole and ClusterRoleBinding are cluster-scoped.
    release = `cluster-wide-${own.slice(-5)}`;
    const manifest = await template(release, own, { watchNamespaces: [] });
    applied = await applyRbac(manifest);
    asOperator = impersonate(kubeConfig, {
      namespace: own,
      serviceAccount: namesFor(release).serviceAccount,
    });
    await waitUntilAllowed(asOperator, {
      verb: 'create',
      group: 'apps',
      resource: 'deployments',
      namespace: tenantNs,
    });
  });

  afterAll(() => deleteClusterScoped(applied));

  it('can create a Deployment and patch whatsapptenants/status in any namespace', async () => {
    const created = await kubeRequest(asOperator, {
      method: 'POST',
      path: `/apis/apps/v1/namespaces/${tenantNs}/deployments`,
      body: probeDeployment('rbac-probe'),
    });
    expect(created.status, created.text).toBe(201);
    const tenant = await exampleTenant(tenantNs);
    await kubeRequestOk(kubeConfig, {
      method: 'POST',
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${tenantNs}/whatsapptenants`,
      body: tenant,
    });
    const patched = await kubeRequest<{ status?: { phase?: string } }>(asOperator, {
      method: 'PATCH',
      path: `/apis/switchboard.dev/v1alpha1/namespaces/${tenantNs}/whatsapptenants/${tenant.metadata.name}/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { phase: 'Pending' } },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.status?.phase).toBe('Pending');
    const listedEverywhere = await kubeRequest(asOperator, {
      path: '/apis/switchboard.dev/v1alpha1/whatsapptenants',
    });
    expect(listedEverywhere.status).toBe(200);
  });

  it('cannot read pods or delete namespaces', async () => {
    expect((await kubeRequest(asOperator, { path: `/api/v1/namespaces/${tenantNs}/pods` })).status).toBe(403);
    expect((await kubeRequest(asOperator, { path: '/api/v1/pods' })).status).toBe(403);
    const deleted = await kubeRequest(asOperator, {
      method: 'DELETE',
      path: `/api/v1/namespaces/${tenantNs}?dryRun=All`,
    });
    expect(deleted.status).toBe(403);
  });

  it('holds Leases only in its own namespace, and nothing beyond the rules cluster-wide', async () => {
    const checks: [AccessCheck, boolean][] = [
      [{ verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: own }, true],
      [{ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: own }, true],
      [{ verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: tenantNs }, false],
      [{ verb: 'list', group: 'apps', resource: 'deployments' }, true],
      [{ verb: 'watch', resource: 'secrets' }, true],
      [{ verb: 'get', resource: 'pods' }, false],
      [{ verb: 'create', resource: 'pods', subresource: 'exec', namespace: tenantNs }, false],
      [{ verb: 'delete', resource: 'namespaces', name: tenantNs }, false],
      [{ verb: 'list', resource: 'nodes' }, false],
      [{ verb: 'create', group: 'switchboard.dev', resource: 'whatsapptenants', namespace: tenantNs }, false],
      [{ verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' }, false],
    ];
    const expected = Object.fromEntries(checks.map(([check, allowed]) => [describeCheck(check), allowed]));
    expect(
      await answers(
        asOperator,
        checks.map(([check]) => check),
      ),
    ).toEqual(expected);
  });
});

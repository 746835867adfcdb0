import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { EnvtestError } from './errors.ts';
import { run } from './exec.ts';
import { kubeRequestOk } from './http.ts';
import { type CliTools, ensureTools } from './tools.ts';

/** What to render and where to validate it. */
export interface HelmDryRunOptions {
  /** Path to a chart directory (or packaged .tgz). */
  chart: string;
  /** The namespace the release goes to; it must exist (createTestNamespace) for namespaced objects. */
  namespace: string;
  /** Values, as `-f` would read them from a file. */
  values?: Record<string, unknown>;
  /** Defaults to "envtest". */
  releaseName?: string;
  /** Render the chart's crds/ too (helm template leaves them out by default). */
  includeCrds?: boolean;
  /** Defaults to ensureTools(). */
  tools?: CliTools;
}

/** What the dry run produced. */
export interface HelmDryRunResult {
  /** The manifests helm rendered. */
  manifest: string;
  /** How many objects the manifests hold. */
  objectCount: number;
  /** kubectl's report, one line per object ("... serverside-applied (server dry run)"). */
  output: string;
}

/**
 * Renders a chart with `helm template` and sends the result to the API server with
 * `kubectl apply --server-side --dry-run=server --validate=strict`: the real API server runs
 * defaulting, OpenAPI schema and CEL validation, and admission on every object without
 * storing anything. Throws an EnvtestError (DRY_RUN_REJECTED, with the server's messages in
 * `message` and `output`) when the server refuses any object, HELM_TEMPLATE_FAILED when the
 * chart does not render.
 */
export async function helmTemplateAndDryRun(
  kc: KubeConfig,
  options: HelmDryRunOptions,
): Promise<HelmDryRunResult> {
  const tools = options.tools ?? (await ensureTools());
  const work = await mkdtemp(join(tmpdir(), 'switchboard-helm-'));
  try {
    // Private helm and kubectl homes: no repositories, plugins or discovery cache of the user's
    // leak in, and nothing is written to $HOME.
    const env = {
      PATH: process.env.PATH,
      HOME: work,
      HELM_CACHE_HOME: join(work, 'helm-cache'),
      HELM_CONFIG_HOME: join(work, 'helm-config'),
      HELM_DATA_HOME: join(work, 'helm-data'),
      KUBECONFIG: join(work, 'kubeconfig'),
    };
    await mkdir(env.HELM_CONFIG_HOME, { recursive: true });
    // The release namespace as the context's default, as `helm install` places objects that
    // name none there. Not `kubectl --namespace`: that also rejects objects a chart puts in
    // other namespaces (RoleBindings in each watched namespace), which helm allows.
    const kubeconfig = parse(kc.exportConfig()) as {
      'current-context'?: string;
      contexts?: { name: string; context: { namespace?: string } }[];
    };
    for (const context of kubeconfig.contexts ?? []) {
      if (context.name === kubeconfig['current-context']) context.context.namespace = options.namespace;
    }
    await writeFile(env.KUBECONFIG, stringify(kubeconfig), { mode: 0o600 });
    const valuesFile = join(work, 'values.yaml');
    await writeFile(valuesFile, stringify(options.values ?? {}));

    // Render for the server's version, so kubeVersion constraints and .Capabilities match it.
    const version = await kubeRequestOk<{ gitVersion: string }>(kc, { path: '/version' });
    const template = await run(
      tools.helm,
      [
        'template',
        options.releaseName ?? 'envtest',
        options.chart,
        '--namespace',
        options.namespace,
        '--values',
        valuesFile,
        '--kube-version',
        version.gitVersion,
        ...(options.includeCrds ? ['--include-crds'] : []),
      ],
      { env },
    );
    if (template.code !== 0) {
      throw new EnvtestError(
        'HELM_TEMPLATE_FAILED',
        `helm template ${options.chart} failed: ${template.stderr.trim()}`,
        {
          output: template.stderr,
        },
      );
    }
    const manifest = template.stdout;
    // Objects only: a document of nothing but comments (a generated file's header) is none.
    const objectCount = parseAllDocuments(manifest).filter((doc) => {
      const value = doc.toJS() as { kind?: unknown } | null;
      return value !== null && typeof value === 'object' && typeof value.kind === 'string';
    }).length;
    if (objectCount === 0) return { manifest, objectCount, output: '' };

    const manifestFile = join(work, 'manifest.yaml');
    await writeFile(manifestFile, manifest);
    const apply = await run(
      tools.kubectl,
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--validate=strict',
        '--field-manager=switchboard-envtest',
        '--cache-dir',
        join(work, 'kube-cache'),
        '--filename',
        manifestFile,
      ],
      { env },
    );
    if (apply.code !== 0) {
      throw new EnvtestError(
        'DRY_RUN_REJECTED',
        `the API server rejected chart ${options.chart}:\n${apply.stderr.trim()}`,
        { output: `${apply.stdout}${apply.stderr}` },
      );
    }
    return { manifest, objectCount, output: apply.stdout };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

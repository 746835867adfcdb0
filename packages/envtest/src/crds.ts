import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { EnvtestError } from './errors.ts';
import { kubeRequest, kubeRequestOk } from './http.ts';

/** Options for installCrds. */
export interface InstallCrdsOptions {
  /** How long each CRD may take to become Established; defaults to 20 s. */
  timeoutMs?: number;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface CrdObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: { group?: string; names?: { plural?: string }; versions?: { name: string; served?: boolean }[] };
  status?: { conditions?: Condition[] };
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const FIELD_MANAGER = 'switchboard-envtest';

async function manifestFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const entries = await readdir(path, { recursive: true, withFileTypes: true });
      files.push(
        ...entries
          .filter((entry) => entry.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name)))
          .map((entry) => join(entry.parentPath, entry.name))
          .sort(),
      );
    } else {
      files.push(path);
    }
  }
  return files;
}

/** Reads every CustomResourceDefinition from YAML/JSON files (multi-document files included). */
export async function readCrds(dirOrFiles: string | readonly string[]): Promise<CrdObject[]> {
  const crds: CrdObject[] = [];
  for (const file of await manifestFiles(typeof dirOrFiles === 'string' ? [dirOrFiles] : dirOrFiles)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const object = doc.toJS() as CrdObject | null;
      if (object?.kind === 'CustomResourceDefinition' && object.metadata?.name) crds.push(object);
    }
  }
  return crds;
}

/**
 * Installs the CRDs found in a directory (recursively) or files with server-side apply, so
 * that several test files installing the same CRDs against the shared control plane do not
 * conflict, and waits until each is Established (its API is served). Returns their names.
 */
export async function installCrds(
  kc: KubeConfig,
  dirOrFiles: string | readonly string[],
  options: InstallCrdsOptions = {},
): Promise<string[]> {
  const crds = await readCrds(dirOrFiles);
  if (crds.length === 0) throw new Error(`no CustomResourceDefinition found in ${String(dirOrFiles)}`);
  const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  await Promise.all(
    crds.map((crd) =>
      kubeRequestOk(kc, {
        method: 'PATCH',
        path: `${base}/${crd.metadata?.name}?fieldManager=${FIELD_MANAGER}&force=true`,
        contentType: 'application/apply-patch+yaml',
        body: crd,
      }),
    ),
  );
  const names = crds.map((crd) => crd.metadata?.name ?? '');
  const timeoutMs = options.timeoutMs ?? 20_000;
  await Promise.all(
    crds.map(async (crd, i) => {
      const name = names[i]!;
      await waitForEstablished(kc, `${base}/${name}`, name, timeoutMs);
      await waitForServed(kc, crd, timeoutMs);
    }),
  );
  return names;
}

// Established is set once the discovery document lists the API, but the storage behind it can
// still answer 429 "storage is (re)initializing" (or 404 on a replica of the handler chain not
// yet updated) for a moment on Kubernetes 1.33+. A first LIST of every served version that
// answers 200 means callers can create objects right away.
async function waitForServed(kc: KubeConfig, crd: CrdObject, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const spec = crd.spec;
  for (const version of spec?.versions ?? []) {
    if (version.served === false) continue;
    const path = `/apis/${spec?.group}/${version.name}/${spec?.names?.plural}?limit=1`;
    for (;;) {
      const response = await kubeRequest(kc, { path });
      if (response.status === 200) break;
      if (![404, 429, 503].includes(response.status) || Date.now() > deadline) {
        throw new EnvtestError(
          'CRD_NOT_ESTABLISHED',
          `CRD ${crd.metadata?.name} is Established but GET ${path} answers ${response.status}: ${response.text.slice(0, 300)}`,
        );
      }
      await sleep(50);
    }
  }
}

async function waitForEstablished(
  kc: KubeConfig,
  path: string,
  name: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let conditions: Condition[] = [];
  for (;;) {
    const response = await kubeRequest<CrdObject>(kc, { path });
    conditions = response.body.status?.conditions ?? [];
    const is = (type: string, status: string) =>
      conditions.some((c) => c.type === type && c.status === status);
    if (is('NamesAccepted', 'False')) {
      throw new EnvtestError(
        'CRD_NOT_ESTABLISHED',
        `CRD ${name}: names not accepted: ${JSON.stringify(conditions)}`,
      );
    }
    if (is('Established', 'True')) return;
    if (Date.now() > deadline) {
      throw new EnvtestError(
        'CRD_NOT_ESTABLISHED',
        `CRD ${name} was not Established after ${timeoutMs} ms: ${JSON.stringify(conditions)}`,
      );
    }
    await sleep(50);
  }
}

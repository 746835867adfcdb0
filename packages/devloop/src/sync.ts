import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { run } from '@switchboard/envtest';
import { watchTree } from './container/watch-tree.ts';

/** Pods the dev loop syncs into: a namespace and a label selector. */
export interface SyncTarget {
  name: string;
  namespace: string;
  selector: string;
}

/** Where the dev images' supervisor reads synced sources (DEVLOOP_SYNC_DIR in scripts/dev/Containerfile). */
export const SYNC_DIR = '/tmp/sync';

/** The folders whose sources the dev images run. */
export const WATCHED = ['packages', 'services', 'operator'] as const;

/**
 * Whether a path (relative to the repository, `/`-separated) is a source the dev images run:
 * under a workspace's src/, not a test, not the inbox (the API serves its build), not in
 * node_modules.
 */
export function isSyncedSource(path: string): boolean {
  if (!/^(packages|services|operator)\//.test(path)) return false;
  if (!path.includes('/src/')) return false;
  if (path.split('/').includes('node_modules')) return false;
  if (path.startsWith('services/inbox/')) return false;
  if (/\.test\.ts$/.test(path) || /\/(test|fixtures)\//.test(path)) return false;
  return true;
}

/** The running pods of a target, by name. */
export async function runningPods(kubectl: string, target: SyncTarget): Promise<string[]> {
  const result = await run(kubectl, [
    '-n',
    target.namespace,
    'get',
    'pods',
    '-l',
    target.selector,
    '--field-selector=status.phase=Running',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}',
  ]);
  if (result.code !== 0) throw new Error(`kubectl get pods -l ${target.selector}: ${result.stderr.trim()}`);
  return result.stdout.split('\n').filter(Boolean);
}

/**
 * Copies files (relative to `root`) into a pod's sync folder: `tar -c` here piped into
 * `kubectl exec -i <pod> -- tar -x` there (the dev images carry busybox's tar). Resolves with
 * the exit code and stderr.
 */
export function copyIntoPod(
  kubectl: string,
  root: string,
  namespace: string,
  pod: string,
  files: readonly string[],
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const pack = spawn('tar', ['-cf', '-', '-C', root, '--', ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exec = spawn(
      kubectl,
      ['-n', namespace, 'exec', '-i', pod, '--', 'tar', '-x', '-o', '-C', SYNC_DIR, '-f', '-'],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    pack.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    exec.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    exec.stdin.on('error', () => {});
    pack.stdout.pipe(exec.stdin);
    pack.on('error', reject);
    exec.on('error', reject);
    exec.on('close', (code) => resolve({ code, stderr: stderr.trim() }));
  });
}

export interface SyncLoopOptions {
  root: string;
  kubectl: string;
  targets: readonly SyncTarget[];
  log: (message: string) => void;
  /** Quiet time after the last change before syncing, in ms. */
  settleMs?: number;
}

/**
 * `make dev`'s loop: watches the workspaces' sources; after each burst of changes, copies every
 * source changed since the loop started into each running pod of the targets that does not
 * have that content yet (so a pod that was replaced meanwhile gets them all), and the pods'
 * supervisors restart their process. Returns a function that stops watching.
 */
export function startSyncLoop(options: SyncLoopOptions): () => void {
  const { root, kubectl, targets, log } = options;
  const changed = new Set<string>();
  /** What each pod was given: pod -> path -> content hash. */
  const given = new Map<string, Map<string, string>>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;

  const syncNow = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const hashes = new Map<string, string>();
      for (const path of changed) {
        try {
          hashes.set(
            path,
            createHash('sha256')
              .update(await readFile(join(root, path)))
              .digest('hex'),
          );
        } catch {
          // Deleted or renamed away: the pods keep the image's copy (see the README's limits).
          changed.delete(path);
        }
      }
      for (const target of targets) {
        let pods: string[];
        try {
          pods = await runningPods(kubectl, target);
        } catch (error) {
          log(`${target.name}: ${(error as Error).message}`);
          continue;
        }
        for (const pod of pods) {
          const had = given.get(pod) ?? new Map<string, string>();
          const files = [...hashes].filter(([path, hash]) => had.get(path) !== hash).map(([path]) => path);
          if (files.length === 0) continue;
          const started = Date.now();
          const result = await copyIntoPod(kubectl, root, target.namespace, pod, files);
          if (result.code !== 0) {
            log(`${target.name} ${pod}: sync failed (exit ${result.code}): ${result.stderr}`);
            continue;
          }
          for (const path of files) had.set(path, hashes.get(path) as string);
          given.set(pod, had);
          log(
            `${target.name} ${pod}: ${files.length} file(s) synced in ${Date.now() - started} ms; it restarts`,
          );
        }
      }
    } finally {
      running = false;
      if (again) {
        again = false;
        void syncNow();
      }
    }
  };

  const stops = WATCHED.map((dir) =>
    watchTree(join(root, dir), (name) => {
      const path = relative(root, join(root, dir, name))
        .split(sep)
        .join('/');
      if (!isSyncedSource(path)) return;
      changed.add(path);
      clearTimeout(timer);
      timer = setTimeout(() => void syncNow(), options.settleMs ?? 300);
    }),
  );
  log(`watching ${WATCHED.join(', ')} for changed sources (Ctrl-C stops)`);
  return () => {
    clearTimeout(timer);
    for (const stop of stops) stop();
  };
}

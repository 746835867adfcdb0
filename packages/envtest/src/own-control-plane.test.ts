// A control plane of its own (not the shared one): starts, answers, and stop() leaves no
// process and no temporary directory behind.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, expect, it } from 'vitest';
import { ensureControlPlaneBinaries } from './binaries.ts';
import { startControlPlane } from './control-plane.ts';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Any process on the machine whose command line mentions the directory (etcd's --data-dir,
// kube-apiserver's certificate paths).
function processesUsing(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}

// A parent of our own, so the test can see that nothing else is left in it either.
const parent = mkdtempSync(join(tmpdir(), 'envtest-own-plane-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

// Starting a control plane takes a few seconds (more on a busy 2-core machine), hence the timeout.
it('starts its own control plane and stop() leaves no process or directory behind', {
  timeout: 90_000,
}, async () => {
  const binaries = await ensureControlPlaneBinaries();
  const plane = await startControlPlane({ binaries, tmpDir: parent });
  try {
    expect(plane.dir.startsWith(parent)).toBe(true);
    expect(isRunning(plane.pids.etcd)).toBe(true);
    expect(isRunning(plane.pids.kubeApiserver)).toBe(true);
    expect(processesUsing(plane.dir).sort()).toEqual([plane.pids.etcd, plane.pids.kubeApiserver].sort());
    const namespaces = await plane.kubeConfig.makeApiClient(CoreV1Api).listNamespace();
    expect(namespaces.items.length).toBeGreaterThan(0);
    expect(readFileSync(plane.kubeconfigPath, 'utf8')).toContain(plane.server);
  } finally {
    await plane.stop();
  }
  expect(isRunning(plane.pids.etcd)).toBe(false);
  expect(isRunning(plane.pids.kubeApiserver)).toBe(false);
  expect(processesUsing(plane.dir)).toEqual([]);
  expect(existsSync(plane.dir)).toBe(false);
  expect(readdirSync(parent)).toEqual([]);
  await plane.stop(); // a second stop is harmless
});

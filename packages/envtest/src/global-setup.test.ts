// The global setup's safety nets: a runner killed by SIGTERM/SIGINT, or one that exits without
// running the teardown, still leaves no kube-apiserver, no etcd and no temporary directory.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SharedControlPlaneInfo } from './shared-control-plane.ts';

const fixture = fileURLToPath(new URL('./fixtures/hold-control-plane.ts', import.meta.url));

function processesUsing(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

// Starts the fixture and resolves with what the setup provided and a promise of its exit.
function holdControlPlane(mode: 'wait' | 'exit') {
  const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const provided = new Promise<SharedControlPlaneInfo>((resolve, reject) => {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('\n')) resolve(JSON.parse(stdout.split('\n')[0] ?? '') as SharedControlPlaneInfo);
    });
    void exited.then(() => reject(new Error(`fixture exited before providing: ${stderr}`)));
  });
  return { child, provided, exited };
}

// Each test starts a control plane in a child process: several seconds on 2 cores.
describe('global setup cleanup', { timeout: 90_000 }, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops the control plane when the runner gets ${signal}`, async () => {
      const { child, provided, exited } = holdControlPlane('wait');
      const info = await provided;
      const dir = dirname(info.kubeconfigPath);
      expect(processesUsing(dir)).toHaveLength(2); // etcd and kube-apiserver

      child.kill(signal);
      const { signal: exitSignal } = await exited;
      expect(exitSignal).toBe(signal); // re-raised after cleanup, so the runner still dies of it
      expect(processesUsing(dir)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
    });
  }

  it('kills the control plane when the runner exits without teardown', async () => {
    const { provided, exited } = holdControlPlane('exit');
    const dir = dirname((await provided).kubeconfigPath);
    expect((await exited).code).toBe(0);
    expect(processesUsing(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});

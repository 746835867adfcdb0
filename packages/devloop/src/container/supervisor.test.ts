import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The dev images' entrypoint run as it runs in a pod: a real Node process over an app tree, with
// the overlay directory the dev loop writes into.
const supervisor = fileURLToPath(new URL('./supervisor.ts', import.meta.url));

let dir: string;
let app: string;
let overlay: string;
let proc: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devloop-'));
  app = join(dir, 'app');
  overlay = join(dir, 'sync');
  await mkdir(join(app, 'svc', 'src'), { recursive: true });
  await mkdir(join(app, 'node_modules', 'dep-lib'), { recursive: true });
  await writeFile(join(app, 'package.json'), '{"type":"module"}');
  await writeFile(
    join(app, 'node_modules', 'dep-lib', 'package.json'),
    '{"type":"module","main":"index.js"}',
  );
  await writeFile(join(app, 'node_modules', 'dep-lib', 'index.js'), 'export const lib = "lib";\n');
  await writeFile(join(app, 'svc', 'src', 'value.ts'), 'export const value: string = "original";\n');
  // Lives until SIGTERM, which it answers by exiting 0, and prints what it runs with.
  await writeFile(
    join(app, 'svc', 'src', 'main.ts'),
    [
      "import { lib } from 'dep-lib';",
      "import { value } from './value.ts';",
      'const n: number = Number(process.env.N ?? 0);',
      // The handler first: once the line is out, a SIGTERM is always answered by it.
      "process.on('SIGTERM', () => { console.log('stopping'); process.exit(0); });",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated module's own template string
      'console.log(`value=${value} lib=${lib} n=${n}`);',
      'setInterval(() => {}, 1000);',
      '',
    ].join('\n'),
  );
});

/**
 * Puts a file into the overlay in one step (written beside it, then renamed in), as one watch
 * event: the test then knows that exactly one restart follows.
 */
async function put(path: string, content: string): Promise<void> {
  const staged = join(dir, 'staged');
  await writeFile(staged, content);
  await rename(staged, join(overlay, path));
}

afterEach(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Starts the supervisor; `next(pattern)` resolves with the first later stdout line matching it. */
function startSupervisor() {
  const started = spawn(process.execPath, [supervisor, 'svc/src/main.ts'], {
    cwd: app,
    env: { ...process.env, DEVLOOP_SYNC_DIR: overlay, DEVLOOP_SETTLE_MS: '50' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc = started;
  const lines: string[] = [];
  const waiters: { pattern: RegExp; from: number; resolve: (line: string) => void }[] = [];
  let stderr = '';
  let partial = '';
  started.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  started.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line) && lines.length > waiter.from) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  const next = (pattern: RegExp, timeoutMs = 15_000) => {
    const from = lines.length;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stderr:\n${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        pattern,
        from,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  };
  const exited = new Promise<number | null>((resolve) =>
    started.on('exit', (code) => {
      if (code !== 0)
        console.error(`supervisor exited ${code}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`);
      resolve(code);
    }),
  );
  return { next, exited, lines };
}

describe('the dev images supervisor', () => {
  it('runs the app tree as it is when the overlay is empty', async () => {
    const s = startSupervisor();
    expect(await s.next(/^value=/)).toBe('value=original lib=lib n=0');
    proc?.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('serves changed and added sources from the overlay and restarts the process on a sync', async () => {
    // Overlay written before start: the first run already uses it.
    await mkdir(join(overlay, 'svc', 'src'), { recursive: true });
    await put('svc/src/value.ts', 'export const value: string = "first";\n');
    const s = startSupervisor();
    expect(await s.next(/^value=/)).toBe('value=first lib=lib n=0');

    // A sync while it runs: a file the image does not have at all...
    let stopped = s.next(/^stopping$/);
    let restarted = s.next(/^value=/);
    await put('svc/src/added.ts', 'export const added: string = "added";\n');
    await stopped;
    expect(await restarted).toBe('value=first lib=lib n=0');
    // ...then a changed file that imports it.
    stopped = s.next(/^stopping$/);
    restarted = s.next(/^value=/);
    await put(
      'svc/src/value.ts',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated module's own template string
      'import { added } from "./added.ts";\nexport const value: string = `second+${added}`;\n',
    );
    await stopped;
    expect(await restarted).toBe('value=second+added lib=lib n=0');

    proc?.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('survives a bad edit and starts again at the next good one', async () => {
    await mkdir(join(overlay, 'svc', 'src'), { recursive: true });
    const s = startSupervisor();
    await s.next(/^value=original/);
    const stopped = s.next(/^stopping$/);
    await put('svc/src/value.ts', 'export const value = ;\n');
    await stopped;
    // The broken child exits; the supervisor keeps running until the next change.
    const fixed = s.next(/^value=/);
    await put('svc/src/value.ts', 'export const value: string = "fixed";\n');
    expect(await fixed).toBe('value=fixed lib=lib n=0');
    proc?.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});

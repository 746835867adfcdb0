// The dev images' entrypoint (scripts/dev/Containerfile), never the product's:
//
//   node supervisor.ts <main.ts> [args...]      (or no arguments and $DEVLOOP_MAIN=<main.ts>)
//
// Runs `node --import overlay-hooks.ts <main.ts>` as a child, so modules of the app tree are
// read from the overlay directory ($DEVLOOP_SYNC_DIR, default /tmp/sync) where the overlay has a
// copy. It watches the overlay; when the dev loop (Tilt's live_update or `make dev`) writes
// files there, it waits until the writes have been quiet for $DEVLOOP_SETTLE_MS (default 300),
// then stops the child with SIGTERM (the API drains, the worker hands its sessions over) and
// starts it again. SIGTERM or SIGINT to the supervisor is passed on to the child; the supervisor
// exits with the child's code. A child that exits on its own (a crash, a syntax error in a
// synced file) is started again at the next change, so the loop survives a bad edit; until
// then the pod's probes fail as they would for any dead process. Self-contained (node: imports
// only, and watch-tree.ts beside it): it is copied into the image.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { watchTree } from './watch-tree.ts';

const args = process.argv.slice(2);
if (args.length === 0 && process.env.DEVLOOP_MAIN) args.push(process.env.DEVLOOP_MAIN);
if (args.length === 0) {
  console.error('usage: node supervisor.ts <main.ts> [args...]');
  process.exit(2);
}
const overlay = resolve(process.env.DEVLOOP_SYNC_DIR ?? '/tmp/sync');
const settleMs = Number(process.env.DEVLOOP_SETTLE_MS ?? '300');
const hooks = join(dirname(fileURLToPath(import.meta.url)), 'overlay-hooks.ts');
const say = (message: string) => console.error(`[devloop] ${message}`);

mkdirSync(overlay, { recursive: true });

let child: ChildProcess | undefined;
let stopping = false;
let restartPending = false;
let settle: NodeJS.Timeout | undefined;

function start(): void {
  const started = spawn(process.execPath, ['--import', hooks, ...args], { stdio: 'inherit' });
  child = started;
  say(`started ${args.join(' ')} (pid ${started.pid}); overlay ${overlay}`);
  started.on('exit', (code, signal) => {
    if (child === started) child = undefined;
    if (stopping) {
      say(`${args[0]} (pid ${started.pid}) stopped (${signal ?? `code ${code}`})`);
      process.exit(code ?? (signal ? 128 + 15 : 0));
    }
    if (restartPending) {
      restartPending = false;
      start();
      return;
    }
    say(`${args[0]} exited (${signal ?? `code ${code}`}); it starts again at the next synced change`);
  });
}

function restart(): void {
  if (stopping) return;
  if (!child) {
    start();
    return;
  }
  restartPending = true;
  say('sources changed: restarting');
  child.kill('SIGTERM');
}

watchTree(overlay, () => {
  clearTimeout(settle);
  settle = setTimeout(restart, settleMs);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    stopping = true;
    clearTimeout(settle);
    say(`${signal}: passing it to ${child ? `pid ${child.pid}` : 'no process'}`);
    if (child) child.kill(signal);
    else process.exit(0);
  });
}

start();

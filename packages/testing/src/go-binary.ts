import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { withFileLock } from '@switchboard/envtest';

/**
 * A server binary for tests built from a Go module (no package or registry ships one that can be
 * fetched here): Vault (vault-binary.ts), Jaeger (jaeger-binary.ts). Found, in this order:
 *
 * 1. An environment variable naming any executable that speaks the server's API (a release
 *    download). A variable that names no executable is an error, not a silent build.
 * 2. The cache: `<cache>/<name>/<version>/bin/<name>`, valid when `<name>.json` beside it matches
 *    the Go sources in `packages/testing/go/<name>` and the recipe.
 * 3. A build: `go build` of the sources (whose go.mod requires the server's module at the version,
 *    go.sum committed), in a staging directory renamed into place, the stamp last, under a lock
 *    file, so an interrupted build leaves no half cache and two test processes do not build twice.
 */

/** The environment variables this module reads; passed in so tests can supply their own. */
export type GoBinaryEnv = Readonly<Record<string, string | undefined>>;

/** What to build and how to recognise it. */
export interface GoBinarySpec {
  /** Cache directory and binary name, e.g. `vault`. */
  name: string;
  /** Shown in messages, e.g. `Vault`. */
  title: string;
  /** The release the sources pin. */
  version: string;
  /** The Go module to build (a directory with go.mod, go.sum and the sources). */
  sources: string;
  /** The package to build inside it: `.` for a main package there, or a tool's import path. */
  target: string;
  /** -ldflags of the build. */
  ldflags: string;
  /** Bump when the build recipe changes, so caches built the old way are rebuilt. */
  recipe: number;
  /** The variable that names a ready binary, e.g. SWITCHBOARD_VAULT_BINARY. */
  envVar: string;
  /** The make target that builds it, named in the error when Go is missing. */
  makeTarget: string;
  /** Runs the built binary and throws unless it is the expected server. */
  verify: (path: string, run: typeof runCommand) => Promise<void>;
}

/** Where a binary of this run comes from. */
export interface GoBinary {
  path: string;
  /** env: the spec's variable; cache: built earlier; build: built just now. */
  source: 'env' | 'cache' | 'build';
  /** Seconds the build took, when it was built just now. */
  buildSeconds?: number;
}

/** Options for {@link ensureGoBinary}. */
export interface EnsureGoBinaryOptions {
  /** Defaults to process.env. */
  env?: GoBinaryEnv;
  /** Progress messages (a cold build takes minutes). */
  log?: (message: string) => void;
}

interface BuildStamp {
  fingerprint: string;
  version: string;
  builtAt: string;
  buildSeconds: number;
}

/** The machine-wide cache root shared with scripts/toolchain.sh and packages/envtest. */
function cacheRoot(env: GoBinaryEnv): string {
  if (env.SWITCHBOARD_CACHE) return env.SWITCHBOARD_CACHE;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'switchboard');
}

/** Paths of the cached build of `spec`. */
export function goBinaryCachePaths(spec: Pick<GoBinarySpec, 'name' | 'version'>, env: GoBinaryEnv) {
  const dir = join(cacheRoot(env), spec.name, spec.version);
  return {
    dir,
    bin: join(dir, 'bin'),
    binary: join(dir, 'bin', spec.name),
    stamp: join(dir, `${spec.name}.json`),
    lock: join(dir, `${spec.name}.lock`),
  };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, env: GoBinaryEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

async function sourceFingerprint(spec: GoBinarySpec): Promise<string> {
  const hash = createHash('sha256');
  // The target is not hashed: it is named by the sources (a main package, or go.mod's tool line).
  hash.update(`recipe ${spec.recipe}\n${spec.version}\n${spec.ldflags}\n`);
  const entries = await readdir(spec.sources, { withFileTypes: true, recursive: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) {
    hash.update(`${relative(spec.sources, file)}\n`);
    hash.update(await readFile(file));
  }
  return hash.digest('hex');
}

async function readCached(
  spec: GoBinarySpec,
  env: GoBinaryEnv,
  fingerprint: string,
): Promise<GoBinary | undefined> {
  const paths = goBinaryCachePaths(spec, env);
  try {
    const stamp = JSON.parse(await readFile(paths.stamp, 'utf8')) as BuildStamp;
    if (stamp.fingerprint !== fingerprint) return undefined;
  } catch {
    return undefined;
  }
  if (!(await isExecutable(paths.binary))) return undefined;
  return { path: paths.binary, source: 'cache' };
}

/** What a finished command printed (stdout and stderr together, the last 32 KiB at least). */
export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a command to its end, collecting its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let partial = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      if (output.length > 64_000) output = output.slice(-32_000);
      if (!options.onLine) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * Returns the binary of `spec`: from its variable, else the cache, else built from the Go module
 * into the cache (once per version and machine; concurrent callers wait for one build).
 */
export async function ensureGoBinary(
  spec: GoBinarySpec,
  options: EnsureGoBinaryOptions = {},
): Promise<GoBinary> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const given = env[spec.envVar];
  if (given) {
    if (!(await isExecutable(given))) {
      throw new Error(`${spec.envVar} is not an executable file: ${given}`);
    }
    return { path: given, source: 'env' };
  }
  const fingerprint = await sourceFingerprint(spec);
  const cached = await readCached(spec, env, fingerprint);
  if (cached) return cached;

  const paths = goBinaryCachePaths(spec, env);
  const go = await findOnPath('go', env);
  if (!go) {
    throw new Error(
      [
        `${spec.title} ${spec.version} is not available: ${spec.envVar} is not set, there is no cached`,
        `build in ${paths.bin}, and \`go\` is not on PATH to build one. Install Go 1.25 or newer and run`,
        `\`make ${spec.makeTarget}\`, or point ${spec.envVar} at a ${spec.title} binary.`,
      ].join('\n'),
    );
  }
  await mkdir(paths.dir, { recursive: true });
  return withFileLock(
    paths.lock,
    async () => {
      // Someone else may have finished the build while we waited for the lock.
      const built = await readCached(spec, env, fingerprint);
      if (built) return built;
      return build(spec, go, env, fingerprint, log);
    },
    {
      onWait: (owner) => log(`waiting for another build of ${spec.title} to finish (lock held by ${owner})`),
    },
  );
}

async function build(
  spec: GoBinarySpec,
  go: string,
  env: GoBinaryEnv,
  fingerprint: string,
  log: (message: string) => void,
): Promise<GoBinary> {
  const paths = goBinaryCachePaths(spec, env);
  const started = Date.now();
  // A build killed outright leaves its staging directory; we hold the lock, so any staging
  // directory here is such a leftover.
  for (const entry of await readdir(paths.dir)) {
    if (entry.startsWith('.build-')) await rm(join(paths.dir, entry), { recursive: true, force: true });
  }
  // Beside the cache, so the final rename stays on one filesystem.
  const staging = await mkdtemp(join(paths.dir, '.build-'));
  try {
    const src = join(staging, 'src');
    await cp(spec.sources, src, { recursive: true });
    log(
      `building ${spec.title} ${spec.version} (go build; modules come from the Go module proxy; minutes when cold)`,
    );
    const heartbeat = setInterval(
      () => log(`  still building ${spec.title} (${Math.round((Date.now() - started) / 1000)} s)`),
      60_000,
    );
    heartbeat.unref();
    const output = join(staging, spec.name);
    const result = await runCommand(
      go,
      ['build', '-trimpath', '-ldflags', spec.ldflags, '-o', output, spec.target],
      {
        cwd: src,
        env: {
          ...(env as NodeJS.ProcessEnv),
          // -mod=mod: go may adjust the copied go.mod (a newer go directive) instead of failing;
          // every module it downloads is still checked against the committed, complete go.sum.
          // -buildvcs=false: the sources are copied out of the repository, there is no VCS.
          GOFLAGS: '-mod=mod -buildvcs=false',
          // A static binary, and no C toolchain needed.
          CGO_ENABLED: '0',
        },
        onLine: (line) => log(`  ${line}`),
      },
    ).finally(() => clearInterval(heartbeat));
    if (result.code !== 0) {
      throw new Error(
        `go build of ${spec.title} ${spec.version} failed (exit ${result.code}):\n${result.output.slice(-4000)}`,
      );
    }
    await spec.verify(output, runCommand);
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    // Each rename is atomic and the stamp goes last: an interrupted build leaves either the
    // previous complete cache or no valid stamp, never a stamp over a half-written binary.
    await mkdir(paths.bin, { recursive: true });
    await rm(paths.stamp, { force: true });
    await rename(output, paths.binary);
    const stamp: BuildStamp = {
      fingerprint,
      version: spec.version,
      builtAt: new Date().toISOString(),
      buildSeconds,
    };
    await writeFile(join(staging, 'stamp.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    await rename(join(staging, 'stamp.json'), paths.stamp);
    log(`built ${spec.title} ${spec.version} in ${buildSeconds} s: ${paths.binary}`);
    return { path: paths.binary, source: 'build', buildSeconds };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

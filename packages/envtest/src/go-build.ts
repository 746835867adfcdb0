import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { delimiter, join, relative } from 'node:path';
import { EnvtestError } from './errors.ts';
import { run, tail } from './exec.ts';
import { withFileLock } from './lock.ts';
import { cacheRoot, type EnvtestEnv } from './paths.ts';

/**
 * The one Go builder of the development tools: kube-apiserver and etcd (binaries.ts), the
 * cluster's binaries (packages/cluster), Vault and Jaeger (packages/testing), Tilt
 * (packages/devloop). No registry this machine reaches ships these binaries, so each is built from
 * its Go module and cached outside the repository. A build is a declaration ({@link GoBuild}):
 * where its cache lives, what decides its output (the fingerprint), and the binaries it makes
 * ({@link GoBinaryRecipe}); this module does the rest the same way for all:
 *
 * - The cache is `<dir>/bin/<output>` with a stamp file beside it, valid while the stamp's
 *   fingerprint matches the declaration (its recipe number, its identity text and the files of its
 *   Go sources) and every output is executable.
 * - A build runs under a lock file, in a staging directory beside the cache (so renames stay on
 *   one filesystem) that a killed build's successor removes; each output is renamed into place and
 *   the stamp goes last, so an interrupted build leaves either the previous complete cache or no
 *   valid stamp, and two processes never build the same thing twice.
 * - `go build -trimpath` with GOFLAGS `-mod=mod -buildvcs=false` (go may complete the copied
 *   go.mod, every module is still checked against go.sum and the checksum database; the copied
 *   sources have no VCS to stamp) and, unless a recipe asks for cgo, CGO_ENABLED=0 (static
 *   binaries, no C toolchain).
 *
 * Which source comes before the cache (an environment variable naming a ready binary,
 * KUBEBUILDER_ASSETS, SWITCHBOARD_CLUSTER_ASSETS) stays with each caller.
 */

/** One cache entry: a stamp, a lock and the binaries built together under them. */
export interface GoBuild {
  /** Shown in messages, e.g. `Vault 1.21.0`. */
  title: string;
  /** The cache folder: the binaries go to `<dir>/bin`, the stamp and the lock beside it. */
  dir: string;
  /** The stamp's file name in `dir`, e.g. `vault.json`. */
  stamp: string;
  /** The lock's file name in `dir` (builds that share a folder may share one lock). */
  lock: string;
  /** Bump when the recipe changes, so caches built the old way are rebuilt. */
  recipe: number;
  /**
   * The text that, with the files of `sources`, decides the build's output: versions, ldflags,
   * whatever the recipes write into the tree. Changing it (or a source file) rebuilds.
   */
  identity: string;
  /** The committed Go sources: their files are part of the fingerprint, and recipes build copies of them. */
  sources?: string;
  /** The binaries, built in this order. */
  binaries: readonly GoBinaryRecipe[];
  /** The error when a build is needed and `go` is not on PATH; `bin` is where the cache would be. */
  goMissing: (bin: string) => Error;
}

/** One step of a build: one `go build` (or a command of its own) and the binaries it makes. */
export interface GoBinaryRecipe {
  /** The binaries it installs into `<dir>/bin`. */
  outputs: readonly string[];
  /** Logged before the step (a cold build takes minutes); defaults to `building <outputs>`. */
  note?: string;
  /**
   * Where the tree it builds comes from: a folder of the build's `sources` (`.` for all of them),
   * or a module version (`path@version`) copied out of the module cache so that it builds as the
   * main module and its replace directives apply.
   */
  from?: { sources: string } | { module: string };
  /** The packages to build in that tree: `.`, `./cmd/x`, a tool's import path. */
  packages?: readonly string[];
  ldflags?: string;
  /** Build with cgo (a C dependency); static binaries without it. */
  cgo?: boolean;
  /**
   * go.sum lines removed from the tree before the build, so `go` checks those modules against
   * the checksum database instead of failing on a line that disagrees with it. Only these exact
   * lines; any other mismatch still fails the build.
   */
  dropGoSumLines?: readonly string[];
  /** Files written into the tree before the build (relative path -> content), e.g. a placeholder page. */
  files?: Readonly<Record<string, string>>;
  /** Run an output with these arguments and fail unless what it prints contains `expect`. */
  verify?: { output?: string; args: readonly string[]; expect: string };
  /** Instead of `go build`: a step of its own, writing its outputs into `ctx.out`. */
  build?: (ctx: GoBuildContext) => Promise<void>;
}

/** What a recipe's own `build` step gets. */
export interface GoBuildContext {
  go: string;
  env: EnvtestEnv;
  staging: string;
  /** Where the outputs are written. */
  out: string;
  log: (message: string) => void;
  /** Runs one command as a step of the build: a heartbeat while it runs, BUILD_FAILED with its output if it fails. */
  step(
    what: string,
    command: string,
    args: readonly string[],
    options?: { cwd?: string; env?: EnvtestEnv },
  ): Promise<string>;
  /** `go mod download` of `path@version`; its directory in the module cache (read-only). */
  moduleDir(module: string): Promise<string>;
}

/** Where a build's binaries come from this time, and how long that took. */
export interface GoBuildResult {
  /** Output name -> absolute path in the cache. */
  binaries: Record<string, string>;
  /** cache: built earlier; build: built just now. */
  source: 'cache' | 'build';
  /** Seconds the build took (0 from the cache). */
  seconds: number;
}

/** Options for {@link ensureGoBuild}. */
export interface EnsureGoBuildOptions {
  /** Defaults to process.env. */
  env?: EnvtestEnv;
  /** Progress messages (a cold build takes minutes). */
  log?: (message: string) => void;
}

interface BuildStamp {
  fingerprint: string;
  title: string;
  builtAt: string;
  buildSeconds: number;
}

/** Whether `path` is a file this process may execute. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds an executable on PATH (as a shell would), or undefined. */
export async function findOnPath(name: string, env: EnvtestEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

/** The paths of a build's cache entry. */
export function goBuildPaths(build: Pick<GoBuild, 'dir' | 'stamp' | 'lock'>) {
  return {
    dir: build.dir,
    bin: join(build.dir, 'bin'),
    stamp: join(build.dir, build.stamp),
    lock: join(build.dir, build.lock),
  };
}

/** The names of every binary a build installs. */
function outputsOf(build: Pick<GoBuild, 'binaries'>): string[] {
  return build.binaries.flatMap((recipe) => recipe.outputs);
}

/** What a cache entry must have been built from to be reused: the recipe, the identity, the sources. */
export async function goBuildFingerprint(
  build: Pick<GoBuild, 'recipe' | 'identity' | 'sources'>,
): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`recipe ${build.recipe}\n${build.identity}`);
  if (build.sources) {
    const entries = await readdir(build.sources, { withFileTypes: true, recursive: true });
    const files = entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
    for (const file of files) {
      hash.update(`${relative(build.sources, file)}\n`);
      hash.update(await readFile(file));
    }
  }
  return hash.digest('hex');
}

async function readCached(build: GoBuild, fingerprint: string): Promise<GoBuildResult | undefined> {
  const paths = goBuildPaths(build);
  try {
    const stamp = JSON.parse(await readFile(paths.stamp, 'utf8')) as BuildStamp;
    if (stamp.fingerprint !== fingerprint) return undefined;
  } catch {
    return undefined;
  }
  const binaries: Record<string, string> = {};
  for (const name of outputsOf(build)) {
    binaries[name] = join(paths.bin, name);
    if (!(await isExecutable(binaries[name]))) return undefined;
  }
  return { binaries, source: 'cache', seconds: 0 };
}

/**
 * Returns the build's binaries from the cache, else builds them into it (once per machine:
 * concurrent callers wait for one build and then find it cached).
 */
export async function ensureGoBuild(
  build: GoBuild,
  options: EnsureGoBuildOptions = {},
): Promise<GoBuildResult> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const fingerprint = await goBuildFingerprint(build);
  const cached = await readCached(build, fingerprint);
  if (cached) return cached;

  const paths = goBuildPaths(build);
  const go = await findOnPath('go', env);
  if (!go) throw build.goMissing(paths.bin);
  await mkdir(paths.dir, { recursive: true });
  return withFileLock(
    paths.lock,
    // Someone else may have finished the build while we waited for the lock.
    async () => (await readCached(build, fingerprint)) ?? buildInto(build, go, env, fingerprint, log),
    {
      onWait: (owner) => log(`waiting for another build of ${build.title} to finish (lock held by ${owner})`),
    },
  );
}

/** GOFLAGS and cgo of every `go` command here (see the module comment). */
function goEnv(env: EnvtestEnv, cgo = false): EnvtestEnv {
  return { ...env, GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: cgo ? '1' : '0' };
}

function contextFor(go: string, env: EnvtestEnv, staging: string, out: string, log: (m: string) => void) {
  const ctx: GoBuildContext = {
    go,
    env,
    staging,
    out,
    log,
    async step(what, command, args, options = {}) {
      const started = Date.now();
      // go build prints nothing while it compiles (minutes for Kubernetes): say it is alive.
      const heartbeat = setInterval(
        () => log(`  still ${what} (${Math.round((Date.now() - started) / 1000)} s)`),
        60_000,
      );
      heartbeat.unref();
      const result = await run(command, args, {
        cwd: options.cwd ?? staging,
        env: options.env ?? env,
        onStderrLine: (line) => log(`  ${line}`),
      }).finally(() => clearInterval(heartbeat));
      if (result.code !== 0) {
        throw new EnvtestError(
          'BUILD_FAILED',
          `${what} failed (exit ${result.code}): ${command} ${args.join(' ')}`,
          {
            output: tail(result.stderr + result.stdout),
          },
        );
      }
      return result.stdout;
    },
    async moduleDir(module) {
      const stdout = await ctx.step(`downloading ${module}`, go, ['mod', 'download', '-json', module], {
        env: { ...goEnv(env), GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
      });
      const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
      if (!info.Dir)
        throw new EnvtestError('BUILD_FAILED', `go mod download ${module}: ${info.Error ?? 'no directory'}`);
      return info.Dir;
    },
  };
  return ctx;
}

/** The tree a recipe builds in: a copy of the build's sources or of a module, with its edits applied. */
async function prepareTree(
  build: GoBuild,
  recipe: GoBinaryRecipe,
  ctx: GoBuildContext,
  index: number,
): Promise<string> {
  const from = recipe.from ?? { sources: '.' };
  const tree = join(ctx.staging, 'src', String(index));
  if ('module' in from) {
    await cp(await ctx.moduleDir(from.module), tree, { recursive: true });
    // The module cache is read-only; the copy is edited below and removed afterwards.
    await ctx.step('making the copied module writable', 'chmod', ['-R', 'u+w', tree]);
  } else {
    if (!build.sources)
      throw new TypeError(`${build.title}: a recipe builds from sources, but the build names none`);
    await cp(join(build.sources, from.sources), tree, { recursive: true });
  }
  if (recipe.dropGoSumLines?.length) {
    const drop = new Set(recipe.dropGoSumLines);
    const goSum = join(tree, 'go.sum');
    await writeFile(goSum, withoutGoSumLines(await readFile(goSum, 'utf8'), drop));
  }
  for (const [path, content] of Object.entries(recipe.files ?? {})) {
    await mkdir(join(tree, path, '..'), { recursive: true });
    await writeFile(join(tree, path), content);
  }
  return tree;
}

/** `goSum` without the lines in `drop` (compared trimmed). */
export function withoutGoSumLines(goSum: string, drop: ReadonlySet<string>): string {
  return goSum
    .split('\n')
    .filter((line) => !drop.has(line.trim()))
    .join('\n');
}

async function runRecipe(
  build: GoBuild,
  recipe: GoBinaryRecipe,
  ctx: GoBuildContext,
  index: number,
): Promise<void> {
  ctx.log(recipe.note ?? `building ${recipe.outputs.join(', ')}`);
  if (recipe.build) {
    await recipe.build(ctx);
  } else {
    const tree = await prepareTree(build, recipe, ctx, index);
    const packages = recipe.packages ?? ['.'];
    // One output: `-o` names the file; several: `-o` is the folder go writes each into.
    const output = recipe.outputs.length === 1 ? join(ctx.out, recipe.outputs[0] as string) : `${ctx.out}/`;
    await ctx.step(
      `building ${packages.join(' ')} (${recipe.outputs.join(', ')})`,
      ctx.go,
      ['build', '-trimpath', '-ldflags', recipe.ldflags ?? '-s -w', '-o', output, ...packages],
      { cwd: tree, env: goEnv(ctx.env, recipe.cgo) },
    );
  }
  if (recipe.verify) {
    const name = recipe.verify.output ?? (recipe.outputs[0] as string);
    const result = await run(join(ctx.out, name), recipe.verify.args, { env: ctx.env });
    const printed = result.stdout + result.stderr;
    if (!printed.includes(recipe.verify.expect)) {
      throw new EnvtestError(
        'BUILD_FAILED',
        `the built ${name} ${recipe.verify.args.join(' ')} printed ${JSON.stringify(printed.trim())}, expected ${recipe.verify.expect}`,
      );
    }
  }
}

async function buildInto(
  build: GoBuild,
  go: string,
  env: EnvtestEnv,
  fingerprint: string,
  log: (message: string) => void,
): Promise<GoBuildResult> {
  const paths = goBuildPaths(build);
  const started = Date.now();
  // A build killed outright (SIGKILL, power loss) leaves its staging directory; we hold the
  // lock, so any staging directory here is such a leftover.
  for (const entry of await readdir(paths.dir)) {
    if (entry.startsWith('.build-')) await rm(join(paths.dir, entry), { recursive: true, force: true });
  }
  const staging = await mkdtemp(join(paths.dir, '.build-'));
  try {
    const out = join(staging, 'out');
    await mkdir(out, { recursive: true });
    const ctx = contextFor(go, env, staging, out, log);
    for (const [index, recipe] of build.binaries.entries()) await runRecipe(build, recipe, ctx, index);

    const seconds = Math.round((Date.now() - started) / 1000);
    await mkdir(paths.bin, { recursive: true });
    await rm(paths.stamp, { force: true });
    const binaries: Record<string, string> = {};
    for (const name of outputsOf(build)) {
      binaries[name] = join(paths.bin, name);
      await chmod(join(out, name), 0o755);
      await rename(join(out, name), binaries[name]);
    }
    const stamp: BuildStamp = {
      fingerprint,
      title: build.title,
      builtAt: new Date().toISOString(),
      buildSeconds: seconds,
    };
    await writeFile(join(staging, 'stamp.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    await rename(join(staging, 'stamp.json'), paths.stamp);
    log(`built ${build.title} in ${seconds} s: ${paths.bin}`);
    return { binaries, source: 'build', seconds };
  } finally {
    // Copied module trees are read-only in places (the module cache's modes); make them removable.
    await run('chmod', ['-R', 'u+w', staging], { env }).catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * A build of one binary that a variable may name instead (a release download on a laptop),
 * cached by version: `<cache>/<name>/<version>/bin/<name>`, its stamp `<name>.json` and its lock
 * `<name>.lock` beside it.
 */
export interface GoBinaryBuild extends Pick<GoBuild, 'recipe' | 'identity' | 'sources'> {
  /** The binary's name, and its cache folder's. */
  name: string;
  /** Shown in messages, e.g. `Vault`. */
  title: string;
  version: string;
  /** How it is built (its one output is `name`). */
  binary: Omit<GoBinaryRecipe, 'outputs'>;
  /** The variable naming a ready binary, e.g. SWITCHBOARD_VAULT_BINARY. */
  envVar: string;
  /** The make target that builds it, named when Go is missing. */
  makeTarget: string;
  /** The oldest Go that builds it, named when Go is missing. */
  goVersion: string;
}

/** Where a one-binary build's binary comes from this time. */
export interface GoBinary {
  path: string;
  /** env: the build's variable; cache: built earlier; build: built just now. */
  source: 'env' | 'cache' | 'build';
  /** Seconds the build took, when it was built just now. */
  buildSeconds?: number;
}

/** A one-binary build as the builder's declaration, its cache under `env`'s cache root. */
function goBuildOfBinary(build: GoBinaryBuild, env: EnvtestEnv): GoBuild {
  const title = `${build.title} ${build.version}`;
  return {
    title,
    dir: join(cacheRoot(env), build.name, build.version),
    stamp: `${build.name}.json`,
    lock: `${build.name}.lock`,
    recipe: build.recipe,
    identity: build.identity,
    ...(build.sources ? { sources: build.sources } : {}),
    binaries: [{ ...build.binary, outputs: [build.name] }],
    goMissing: (bin) =>
      new Error(
        [
          `${title} is not available: ${build.envVar} is not set, there is no cached`,
          `build in ${bin}, and \`go\` is not on PATH to build one. Install Go ${build.goVersion} or newer and run`,
          `\`make ${build.makeTarget}\`, or point ${build.envVar} at a ${build.title} binary.`,
        ].join('\n'),
      ),
  };
}

/** The paths of a one-binary build's cache entry, `binary` among them. */
export function goBinaryPaths(build: GoBinaryBuild, env: EnvtestEnv) {
  const paths = goBuildPaths(goBuildOfBinary(build, env));
  return { ...paths, binary: join(paths.bin, build.name) };
}

/**
 * Returns the binary of a one-binary build: the one its variable names (a variable that names no
 * executable is an error, not a silent build), else the cache, else built into it.
 */
export async function ensureGoBinary(
  build: GoBinaryBuild,
  options: EnsureGoBuildOptions = {},
): Promise<GoBinary> {
  const env = options.env ?? process.env;
  const given = env[build.envVar];
  if (given) {
    if (!(await isExecutable(given))) throw new Error(`${build.envVar} is not an executable file: ${given}`);
    return { path: given, source: 'env' };
  }
  const result = await ensureGoBuild(goBuildOfBinary(build, env), options);
  const path = result.binaries[build.name] as string;
  return result.source === 'build'
    ? { path, source: 'build', buildSeconds: result.seconds }
    : { path, source: 'cache' };
}

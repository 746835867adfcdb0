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
import { join } from 'node:path';
import { cacheRoot, type EnvtestEnv, findOnPath, run, tail, withFileLock } from '@switchboard/envtest';

/**
 * Tilt, built here from its Go module (no registry this machine reaches ships a Tilt binary).
 * Found, in this order:
 *
 * 1. `SWITCHBOARD_TILT_BINARY`: any Tilt executable (a release download on a laptop). A variable
 *    that names no executable is an error, not a silent build.
 * 2. The cache: `<cache>/tilt/<version>/bin/tilt`, valid while `tilt.json` beside it matches the
 *    recipe below.
 * 3. A build: `go mod download github.com/tilt-dev/tilt@v<version>`, the module's tree copied
 *    out of the module cache so it builds as the main module (its replace directives apply),
 *    `go build ./cmd/tilt` with cgo (the Tiltfile language server's tree-sitter is C) and a
 *    placeholder page for the web UI (its assets are not in the module), in a
 *    staging directory renamed into place, the stamp last, under a lock file.
 *
 * Why not `go install github.com/tilt-dev/tilt/cmd/tilt@v<version>`: the Go module proxy serves
 * the exact version but refuses the module's version list (403), which `go install` reads to
 * check for deprecation, so it fails before building.
 */

/** The Tilt release built here; the newest the Go module proxy serves (v0.37.5 is served too). */
export const TILT_VERSION = '0.37.6';

const MODULE = 'github.com/tilt-dev/tilt';

/**
 * go.sum lines of the Tilt module that disagree with the Go checksum database, removed before the
 * build so `go` verifies those modules against the checksum database (sum.golang.org, whose
 * answers are signed) instead of failing with "SECURITY ERROR ... checksum mismatch". For
 * v0.37.6: Tilt's go.sum records github.com/docker/buildx v0.32.1 as
 * h1:Zlau3oApu/xjwgRsOc4YLcnmpHUsCXOH1GR6KlOhTME=, while the proxy serves, and the checksum
 * database records, h1:ecen0VNo7UINEv+Wx7xDPlTH5nQ1EaxzFOoslYIISuk=. Only these exact lines are
 * removed; any other mismatch still fails the build.
 */
export const GO_SUM_OVERRIDES: readonly string[] = [
  'github.com/docker/buildx v0.32.1 h1:Zlau3oApu/xjwgRsOc4YLcnmpHUsCXOH1GR6KlOhTME=',
];

// Bump when the recipe below changes, so caches built the old way are rebuilt.
const RECIPE = 2;
const LDFLAGS = `-s -w -X main.version=${TILT_VERSION}`;

const PLACEHOLDER_PAGE =
  '<!doctype html><title>Tilt</title><p>The web UI is not part of this build of Tilt (see packages/devloop/README.md): use its terminal UI (<code>tilt up --legacy</code>) or <code>tilt get uiresources</code>.</p>\n';

/** The environment variables this module reads; passed in so tests can supply their own. */
export type TiltBinaryEnv = EnvtestEnv;

/** Where the Tilt binary of this run comes from. */
export interface TiltBinary {
  path: string;
  /** env: SWITCHBOARD_TILT_BINARY; cache: built earlier; build: built just now. */
  source: 'env' | 'cache' | 'build';
  /** Seconds the build took, when it was built just now. */
  buildSeconds?: number;
}

export interface EnsureTiltBinaryOptions {
  /** Defaults to process.env. */
  env?: TiltBinaryEnv;
  /** Progress messages (a cold build takes many minutes). */
  log?: (message: string) => void;
}

interface Stamp {
  fingerprint: string;
  tiltVersion: string;
  builtAt: string;
  buildSeconds: number;
}

/** Paths of the cached build of {@link TILT_VERSION}. */
export function tiltCachePaths(env: TiltBinaryEnv) {
  const dir = join(cacheRoot(env), 'tilt', TILT_VERSION);
  return {
    dir,
    bin: join(dir, 'bin'),
    tilt: join(dir, 'bin', 'tilt'),
    stamp: join(dir, 'tilt.json'),
    lock: join(dir, 'build.lock'),
  };
}

/** What decides the build's output: the version, the flags, the go.sum overrides, the recipe. */
export function tiltFingerprint(): string {
  return createHash('sha256')
    .update(
      `recipe ${RECIPE}\n${MODULE}@v${TILT_VERSION}\n${LDFLAGS}\n${GO_SUM_OVERRIDES.join('\n')}\n${PLACEHOLDER_PAGE}`,
    )
    .digest('hex');
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function readCached(env: TiltBinaryEnv): Promise<TiltBinary | undefined> {
  const paths = tiltCachePaths(env);
  try {
    const stamp = JSON.parse(await readFile(paths.stamp, 'utf8')) as Stamp;
    if (stamp.fingerprint !== tiltFingerprint()) return undefined;
  } catch {
    return undefined;
  }
  if (!(await isExecutable(paths.tilt))) return undefined;
  return { path: paths.tilt, source: 'cache' };
}

/**
 * Returns a Tilt binary: SWITCHBOARD_TILT_BINARY, else the cache, else built from the Go module
 * into the cache (once per version and machine; concurrent callers wait for one build).
 */
export async function ensureTiltBinary(options: EnsureTiltBinaryOptions = {}): Promise<TiltBinary> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const given = env.SWITCHBOARD_TILT_BINARY;
  if (given) {
    if (!(await isExecutable(given))) {
      throw new Error(`SWITCHBOARD_TILT_BINARY is not an executable file: ${given}`);
    }
    return { path: given, source: 'env' };
  }
  const cached = await readCached(env);
  if (cached) return cached;
  const paths = tiltCachePaths(env);
  const go = await findOnPath('go', env);
  if (!go) {
    throw new Error(
      [
        `Tilt ${TILT_VERSION} is not available: SWITCHBOARD_TILT_BINARY is not set, there is no cached`,
        `build in ${paths.bin}, and \`go\` is not on PATH to build one. Install Go 1.26 or newer and run`,
        '`make tilt-binary`, or point SWITCHBOARD_TILT_BINARY at a Tilt binary.',
      ].join('\n'),
    );
  }
  await mkdir(paths.dir, { recursive: true });
  return withFileLock(paths.lock, async () => (await readCached(env)) ?? buildTilt(go, env, log), {
    onWait: (owner) => log(`waiting for another build of Tilt to finish (lock held by ${owner})`),
  });
}

async function step(
  what: string,
  command: string,
  args: string[],
  options: { cwd: string; env: TiltBinaryEnv; log: (message: string) => void },
): Promise<string> {
  const started = Date.now();
  const heartbeat = setInterval(
    () => options.log(`  still ${what} (${Math.round((Date.now() - started) / 1000)} s)`),
    60_000,
  );
  heartbeat.unref();
  const result = await run(command, args, { cwd: options.cwd, env: options.env }).finally(() =>
    clearInterval(heartbeat),
  );
  if (result.code !== 0) {
    throw new Error(
      `${what} failed (exit ${result.code}): ${command} ${args.join(' ')}\n${tail(result.stderr + result.stdout)}`,
    );
  }
  return result.stdout;
}

/** go.sum without the {@link GO_SUM_OVERRIDES} lines. */
export function withoutOverriddenSums(goSum: string): string {
  const drop = new Set(GO_SUM_OVERRIDES);
  return goSum
    .split('\n')
    .filter((line) => !drop.has(line.trim()))
    .join('\n');
}

async function buildTilt(
  go: string,
  env: TiltBinaryEnv,
  log: (message: string) => void,
): Promise<TiltBinary> {
  const paths = tiltCachePaths(env);
  const started = Date.now();
  // We hold the lock: a staging directory left here is from a build that was killed outright.
  for (const entry of await readdir(paths.dir)) {
    if (entry.startsWith('.build-')) await rm(join(paths.dir, entry), { recursive: true, force: true });
  }
  const staging = await mkdtemp(join(paths.dir, '.build-'));
  try {
    log(
      `building Tilt ${TILT_VERSION} (go build with cgo; modules from the Go module proxy; many minutes cold)`,
    );
    const goEnv = {
      ...env,
      // -mod=mod: go may complete the copied go.mod; every module is still checked against go.sum
      // and the checksum database. No VCS in the copied tree to stamp.
      GOFLAGS: '-mod=mod -buildvcs=false',
      // The Tiltfile language server links tree-sitter, which is C.
      CGO_ENABLED: '1',
    };
    const info = JSON.parse(
      await step(
        `downloading ${MODULE}@v${TILT_VERSION}`,
        go,
        ['mod', 'download', '-json', `${MODULE}@v${TILT_VERSION}`],
        {
          cwd: staging,
          env: goEnv,
          log,
        },
      ),
    ) as { Dir?: string; Error?: string };
    if (!info.Dir)
      throw new Error(`go mod download ${MODULE}@v${TILT_VERSION}: ${info.Error ?? 'no directory'}`);
    const src = join(staging, 'src');
    await cp(info.Dir, src, { recursive: true });
    await step('making the copied module writable', 'chmod', ['-R', 'u+w', src], { cwd: staging, env, log });
    const goSum = join(src, 'go.sum');
    await writeFile(goSum, withoutOverriddenSums(await readFile(goSum, 'utf8')));
    // The web UI's built assets are not in the module (upstream builds them with Node and embeds
    // them at release time); without pkg/assets/build/index.html Tilt refuses to start ("running
    // in prod mode, but JS/CSS files are not available"). A one-page placeholder stands in, as
    // packages/cluster does for Traefik's dashboard: Tilt's terminal UI and `tilt ci` need no
    // web UI.
    await writeFile(join(src, 'pkg', 'assets', 'build', 'index.html'), PLACEHOLDER_PAGE);
    const output = join(staging, 'tilt');
    await step(
      'building ./cmd/tilt',
      go,
      ['build', '-trimpath', '-ldflags', LDFLAGS, '-o', output, './cmd/tilt'],
      {
        cwd: src,
        env: goEnv,
        log,
      },
    );
    const version = await step('running tilt version', output, ['version'], { cwd: staging, env, log });
    if (!version.includes(`v${TILT_VERSION}`)) {
      throw new Error(`the built tilt printed ${JSON.stringify(version.trim())}, expected v${TILT_VERSION}`);
    }
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    // Each rename is atomic and the stamp goes last: an interrupted build leaves either the
    // previous complete cache or no valid stamp, never a stamp over a half-written binary.
    await mkdir(paths.bin, { recursive: true });
    await rm(paths.stamp, { force: true });
    await chmod(output, 0o755);
    await rename(output, paths.tilt);
    const stamp: Stamp = {
      fingerprint: tiltFingerprint(),
      tiltVersion: TILT_VERSION,
      builtAt: new Date().toISOString(),
      buildSeconds,
    };
    await writeFile(join(staging, 'stamp.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    await rename(join(staging, 'stamp.json'), paths.stamp);
    log(`built Tilt ${TILT_VERSION} in ${buildSeconds} s: ${paths.tilt}`);
    return { path: paths.tilt, source: 'build', buildSeconds };
  } finally {
    // The copied module tree is read-only in places (go's module cache modes); make it removable.
    await run('chmod', ['-R', 'u+w', staging], { env }).catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
  }
}

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withFileLock } from '@switchboard/envtest';

/**
 * A real Vault server binary for tests, built from HashiCorp's Go module (no package or registry
 * ships one that can be fetched here). Found, in this order:
 *
 * 1. `SWITCHBOARD_VAULT_BINARY`: any executable speaking Vault's API (a release download, OpenBao's
 *    `bao`). A variable that names no executable is an error, not a silent build.
 * 2. The cache: `<cache>/vault/<version>/bin/vault`, valid when `vault.json` beside it matches
 *    the Go sources in `packages/testing/go/vault` and the recipe below.
 * 3. A build: `go build` of `go/vault` (which requires github.com/hashicorp/vault at
 *    `VAULT_VERSION`, go.sum committed), in a staging directory renamed into place, the stamp
 *    last, under a lock file, so an interrupted build leaves no half cache and two test
 *    processes do not build twice.
 */

/** The Vault release the tests run; `go/vault/go.mod` requires the same (checked by a test). */
export const VAULT_VERSION = '1.21.0';

// Bump when the build recipe below changes, so caches built the old way are rebuilt.
const RECIPE = 1;
const LDFLAGS = '-s -w';
const GO_SOURCES = fileURLToPath(new URL('../go/vault/', import.meta.url));

/** The environment variables this module reads; passed in so tests can supply their own. */
export type VaultBinaryEnv = Readonly<Record<string, string | undefined>>;

/** Where the Vault binary of this run comes from. */
export interface VaultBinary {
  path: string;
  /** env: SWITCHBOARD_VAULT_BINARY; cache: built earlier; build: built just now. */
  source: 'env' | 'cache' | 'build';
  /** Seconds the build took, when it was built just now. */
  buildSeconds?: number;
}

/** Options for {@link ensureVaultBinary}. */
export interface EnsureVaultBinaryOptions {
  /** Defaults to process.env. */
  env?: VaultBinaryEnv;
  /** Progress messages (a cold build takes minutes). */
  log?: (message: string) => void;
}

interface BuildStamp {
  fingerprint: string;
  vaultVersion: string;
  builtAt: string;
  buildSeconds: number;
}

/** The machine-wide cache root shared with scripts/toolchain.sh and packages/envtest. */
function cacheRoot(env: VaultBinaryEnv): string {
  if (env.SWITCHBOARD_CACHE) return env.SWITCHBOARD_CACHE;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'switchboard');
}

/** Paths of the cached build for `VAULT_VERSION`. */
export function vaultCachePaths(env: VaultBinaryEnv) {
  const dir = join(cacheRoot(env), 'vault', VAULT_VERSION);
  return {
    dir,
    bin: join(dir, 'bin'),
    vault: join(dir, 'bin', 'vault'),
    stamp: join(dir, 'vault.json'),
    lock: join(dir, 'vault.lock'),
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

async function findOnPath(name: string, env: VaultBinaryEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

async function sourceFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`recipe ${RECIPE}\n${VAULT_VERSION}\n${LDFLAGS}\n`);
  const entries = await readdir(GO_SOURCES, { withFileTypes: true, recursive: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) {
    hash.update(`${relative(GO_SOURCES, file)}\n`);
    hash.update(await readFile(file));
  }
  return hash.digest('hex');
}

async function readCached(env: VaultBinaryEnv, fingerprint: string): Promise<VaultBinary | undefined> {
  const paths = vaultCachePaths(env);
  try {
    const stamp = JSON.parse(await readFile(paths.stamp, 'utf8')) as BuildStamp;
    if (stamp.fingerprint !== fingerprint) return undefined;
  } catch {
    return undefined;
  }
  if (!(await isExecutable(paths.vault))) return undefined;
  return { path: paths.vault, source: 'cache' };
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(
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
 * Returns a Vault server binary: from SWITCHBOARD_VAULT_BINARY, else the cache, else built from
 * the Go module into the cache (once per version and machine; concurrent callers wait for one
 * build). Measured cold build times are in packages/testing/README.md.
 */
export async function ensureVaultBinary(options: EnsureVaultBinaryOptions = {}): Promise<VaultBinary> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const given = env.SWITCHBOARD_VAULT_BINARY;
  if (given) {
    if (!(await isExecutable(given))) {
      throw new Error(`SWITCHBOARD_VAULT_BINARY is not an executable file: ${given}`);
    }
    return { path: given, source: 'env' };
  }
  const fingerprint = await sourceFingerprint();
  const cached = await readCached(env, fingerprint);
  if (cached) return cached;

  const paths = vaultCachePaths(env);
  const go = await findOnPath('go', env);
  if (!go) {
    throw new Error(
      [
        `Vault ${VAULT_VERSION} is not available: SWITCHBOARD_VAULT_BINARY is not set, there is no cached`,
        `build in ${paths.bin}, and \`go\` is not on PATH to build one. Install Go 1.25 or newer and run`,
        '`make vault-binary`, or point SWITCHBOARD_VAULT_BINARY at a Vault server binary.',
      ].join('\n'),
    );
  }
  await mkdir(paths.dir, { recursive: true });
  return withFileLock(
    paths.lock,
    async () => {
      // Someone else may have finished the build while we waited for the lock.
      const built = await readCached(env, fingerprint);
      if (built) return built;
      return buildVault(go, env, fingerprint, log);
    },
    { onWait: (owner) => log(`waiting for another build of Vault to finish (lock held by ${owner})`) },
  );
}

async function buildVault(
  go: string,
  env: VaultBinaryEnv,
  fingerprint: string,
  log: (message: string) => void,
): Promise<VaultBinary> {
  const paths = vaultCachePaths(env);
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
    await cp(GO_SOURCES, src, { recursive: true });
    log(
      `building Vault ${VAULT_VERSION} (go build; modules come from the Go module proxy; minutes when cold)`,
    );
    const heartbeat = setInterval(
      () => log(`  still building Vault (${Math.round((Date.now() - started) / 1000)} s)`),
      60_000,
    );
    heartbeat.unref();
    const output = join(staging, 'vault');
    const result = await run(go, ['build', '-trimpath', '-ldflags', LDFLAGS, '-o', output, '.'], {
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
    }).finally(() => clearInterval(heartbeat));
    if (result.code !== 0) {
      throw new Error(
        `go build of Vault ${VAULT_VERSION} failed (exit ${result.code}):\n${result.output.slice(-4000)}`,
      );
    }
    const version = await run(output, ['version']);
    if (!version.output.includes(`Vault v${VAULT_VERSION}`)) {
      throw new Error(
        `the built vault printed ${JSON.stringify(version.output.trim())}, expected Vault v${VAULT_VERSION}`,
      );
    }
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    // Each rename is atomic and the stamp goes last: an interrupted build leaves either the
    // previous complete cache or no valid stamp, never a stamp over a half-written binary.
    await mkdir(paths.bin, { recursive: true });
    await rm(paths.stamp, { force: true });
    await rename(output, paths.vault);
    const stamp: BuildStamp = {
      fingerprint,
      vaultVersion: VAULT_VERSION,
      builtAt: new Date().toISOString(),
      buildSeconds,
    };
    await writeFile(join(staging, 'stamp.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    await rename(join(staging, 'stamp.json'), paths.stamp);
    log(`built Vault ${VAULT_VERSION} in ${buildSeconds} s: ${paths.vault}`);
    return { path: paths.vault, source: 'build', buildSeconds };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

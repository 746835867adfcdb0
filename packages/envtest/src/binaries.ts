import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvtestError } from './errors.ts';
import { run, tail } from './exec.ts';
import { withFileLock } from './lock.ts';
import { type EnvtestEnv, versionCacheDir } from './paths.ts';
import { ETCD_VERSION, KUBERNETES_RELEASE_DATE, KUBERNETES_VERSION } from './versions.ts';

/** Where kube-apiserver and etcd come from for this run. */
export interface ControlPlaneBinaries {
  kubeApiserver: string;
  etcd: string;
  /** assets: KUBEBUILDER_ASSETS / TEST_ASSET_*; cache: built earlier; build: built just now. */
  source: 'assets' | 'cache' | 'build';
}

/** Options for finding or building the control-plane binaries. */
export interface EnsureBinariesOptions {
  /** Defaults to process.env. */
  env?: EnvtestEnv;
  /** Progress messages (the build can take half an hour cold). */
  log?: (message: string) => void;
}

// Bump when the build recipe below changes, so caches built the old way are rebuilt.
const RECIPE = 1;

const GO_SOURCES = fileURLToPath(new URL('../go/', import.meta.url));

async function isExecutable(path: string): Promise<boolean> {
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

/**
 * The envtest convention (controller-runtime's setup-envtest): TEST_ASSET_KUBE_APISERVER and
 * TEST_ASSET_ETCD name each binary, else $KUBEBUILDER_ASSETS/<name>. Returns undefined when none
 * of these is set; throws when they are set but do not lead to an executable, since a typo
 * there should not silently fall back to a 30-minute build.
 */
export async function resolveAssetBinaries(env: EnvtestEnv): Promise<ControlPlaneBinaries | undefined> {
  const assets = env.KUBEBUILDER_ASSETS;
  if (!assets && !env.TEST_ASSET_KUBE_APISERVER && !env.TEST_ASSET_ETCD) return undefined;
  const pick = async (name: string, variable: string): Promise<string> => {
    const path = env[variable] || (assets ? join(assets, name) : undefined);
    if (!path) {
      throw new EnvtestError(
        'BINARIES_UNAVAILABLE',
        `${variable} is not set and neither is KUBEBUILDER_ASSETS: set both TEST_ASSET_KUBE_APISERVER and TEST_ASSET_ETCD, or KUBEBUILDER_ASSETS`,
      );
    }
    if (!(await isExecutable(path))) {
      const from = env[variable] ? variable : 'KUBEBUILDER_ASSETS';
      throw new EnvtestError(
        'BINARIES_UNAVAILABLE',
        `${name} from ${from} is not an executable file: ${path}`,
      );
    }
    return path;
  };
  return {
    kubeApiserver: await pick('kube-apiserver', 'TEST_ASSET_KUBE_APISERVER'),
    etcd: await pick('etcd', 'TEST_ASSET_ETCD'),
    source: 'assets',
  };
}

/** The ldflags that stamp the version into kube-apiserver, as Kubernetes' hack/lib/version.sh does. */
export function kubeApiserverLdflags(version: string = KUBERNETES_VERSION): string {
  const [major, minor] = version.split('.');
  const vars: Record<string, string> = {
    gitVersion: `v${version}`,
    gitMajor: major ?? '',
    gitMinor: minor ?? '',
    gitTreeState: 'clean',
    buildDate: KUBERNETES_RELEASE_DATE,
  };
  const flags = ['-s', '-w'];
  for (const [key, value] of Object.entries(vars)) {
    // client-go keeps its own copy of the version variables; upstream stamps both.
    flags.push(
      `-X k8s.io/component-base/version.${key}=${value}`,
      `-X k8s.io/client-go/pkg/version.${key}=${value}`,
    );
  }
  return flags.join(' ');
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

// Identifies what a cache was built from: the committed Go modules, the versions and the recipe.
// A cache whose stamp differs is rebuilt rather than trusted.
async function sourceFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`recipe ${RECIPE}\n${KUBERNETES_VERSION}\n${ETCD_VERSION}\n${kubeApiserverLdflags()}\n`);
  for (const file of await listFiles(GO_SOURCES)) {
    hash.update(`${relative(GO_SOURCES, file)}\n`);
    hash.update(await readFile(file));
  }
  return hash.digest('hex');
}

interface BuildStamp {
  fingerprint: string;
  kubernetesVersion: string;
  etcdVersion: string;
  builtAt: string;
  buildSeconds: number;
}

function cachedPaths(env: EnvtestEnv) {
  const dir = versionCacheDir(env);
  return {
    dir,
    bin: join(dir, 'bin'),
    kubeApiserver: join(dir, 'bin', 'kube-apiserver'),
    etcd: join(dir, 'bin', 'etcd'),
    stamp: join(dir, 'control-plane.json'),
    lock: join(dir, 'control-plane.lock'),
  };
}

async function readCached(env: EnvtestEnv, fingerprint: string): Promise<ControlPlaneBinaries | undefined> {
  const paths = cachedPaths(env);
  try {
    const stamp = JSON.parse(await readFile(paths.stamp, 'utf8')) as BuildStamp;
    if (stamp.fingerprint !== fingerprint) return undefined;
  } catch {
    return undefined;
  }
  if (!(await isExecutable(paths.kubeApiserver)) || !(await isExecutable(paths.etcd))) return undefined;
  return { kubeApiserver: paths.kubeApiserver, etcd: paths.etcd, source: 'cache' };
}

/**
 * Returns kube-apiserver and etcd: from KUBEBUILDER_ASSETS / TEST_ASSET_* when set, else from
 * the cache, else built from the Go modules in packages/envtest/go/ into the cache (once per
 * version and machine; concurrent callers wait for one build).
 */
export async function ensureControlPlaneBinaries(
  options: EnsureBinariesOptions = {},
): Promise<ControlPlaneBinaries> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const assets = await resolveAssetBinaries(env);
  if (assets) return assets;

  const fingerprint = await sourceFingerprint();
  const cached = await readCached(env, fingerprint);
  if (cached) return cached;

  const go = await findOnPath('go', env);
  const paths = cachedPaths(env);
  if (!go) {
    throw new EnvtestError(
      'BINARIES_UNAVAILABLE',
      [
        `kube-apiserver and etcd for Kubernetes ${KUBERNETES_VERSION} are not available:`,
        '  - KUBEBUILDER_ASSETS, TEST_ASSET_KUBE_APISERVER and TEST_ASSET_ETCD are not set,',
        `  - there is no cached build in ${paths.bin},`,
        '  - and `go` is not on PATH, so they cannot be built.',
        'Install Go 1.25 or newer and run `node packages/envtest/src/cli.ts build` (or `make envtest-binaries`),',
        'or point KUBEBUILDER_ASSETS at a directory holding kube-apiserver and etcd (e.g. from setup-envtest).',
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
      return buildBinaries(go, env, fingerprint, log);
    },
    {
      onWait: (owner) =>
        log(`waiting for another build of the envtest binaries to finish (lock held by ${owner})`),
    },
  );
}

async function goBuild(
  go: string,
  cwd: string,
  output: string,
  ldflags: string,
  env: EnvtestEnv,
  log: (message: string) => void,
): Promise<void> {
  // go build prints nothing while it compiles (minutes for kube-apiserver): say it is alive.
  const started = Date.now();
  const heartbeat = setInterval(
    () => log(`  still building (${Math.round((Date.now() - started) / 1000)} s)`),
    60_000,
  );
  heartbeat.unref();
  const result = await run(go, ['build', '-trimpath', '-ldflags', ldflags, '-o', output, '.'], {
    cwd,
    env: {
      ...env,
      // -mod=mod: go may adjust the copied go.mod (e.g. a newer go directive) instead of failing;
      // every module it downloads is still checked against the committed, complete go.sum.
      // -buildvcs=false: the sources are copied out of the repository, there is no VCS to stamp.
      GOFLAGS: '-mod=mod -buildvcs=false',
      // Static binaries, as Kubernetes releases them, and no C toolchain needed.
      CGO_ENABLED: '0',
    },
    onStderrLine: (line) => log(`  ${line}`),
  }).finally(() => clearInterval(heartbeat));
  if (result.code !== 0) {
    throw new EnvtestError('BUILD_FAILED', `go build in ${cwd} failed (exit ${result.code})`, {
      output: tail(result.stderr + result.stdout),
    });
  }
}

async function checkVersion(binary: string, expected: string): Promise<void> {
  const result = await run(binary, ['--version']);
  const text = result.stdout + result.stderr;
  if (!text.includes(expected)) {
    throw new EnvtestError(
      'BUILD_FAILED',
      `${binary} --version printed ${JSON.stringify(text.trim())}, expected ${expected}`,
    );
  }
}

async function buildBinaries(
  go: string,
  env: EnvtestEnv,
  fingerprint: string,
  log: (message: string) => void,
): Promise<ControlPlaneBinaries> {
  const paths = cachedPaths(env);
  const started = Date.now();
  // A build killed outright (SIGKILL, power loss) leaves its staging directory; we hold the
  // lock, so any staging directory here is such a leftover.
  for (const entry of await readdir(paths.dir)) {
    if (entry.startsWith('.build-')) await rm(join(paths.dir, entry), { recursive: true, force: true });
  }
  // The staging directory sits beside the cache so the final rename stays on one filesystem.
  const staging = await mkdtemp(join(paths.dir, '.build-'));
  try {
    const src = join(staging, 'src');
    await cp(GO_SOURCES, src, { recursive: true });
    log(`building etcd ${ETCD_VERSION} (go build; modules come from the module proxy)`);
    await goBuild(go, join(src, 'etcd'), join(staging, 'etcd'), '-s -w', env, log);
    await checkVersion(join(staging, 'etcd'), `etcd Version: ${ETCD_VERSION}`);
    log(
      // Measured on 2 cores: 7 to 10 minutes with cold Go caches, 15 s with a warm build cache.
      `building kube-apiserver v${KUBERNETES_VERSION} (minutes with a cold Go build cache, seconds with a warm one)`,
    );
    await goBuild(
      go,
      join(src, 'kube-apiserver'),
      join(staging, 'kube-apiserver'),
      kubeApiserverLdflags(),
      env,
      log,
    );
    await checkVersion(join(staging, 'kube-apiserver'), `Kubernetes v${KUBERNETES_VERSION}`);

    // Each rename is atomic and the stamp goes last: a build interrupted anywhere leaves either
    // the previous complete cache or no valid stamp, never a stamp over half the binaries.
    await mkdir(paths.bin, { recursive: true });
    await rm(paths.stamp, { force: true });
    await rename(join(staging, 'etcd'), paths.etcd);
    await rename(join(staging, 'kube-apiserver'), paths.kubeApiserver);
    const stamp: BuildStamp = {
      fingerprint,
      kubernetesVersion: KUBERNETES_VERSION,
      etcdVersion: ETCD_VERSION,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 1000),
    };
    await writeFile(join(staging, 'stamp.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    await rename(join(staging, 'stamp.json'), paths.stamp);
    return { kubeApiserver: paths.kubeApiserver, etcd: paths.etcd, source: 'build' };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

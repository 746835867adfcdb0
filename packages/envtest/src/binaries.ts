import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvtestError } from './errors.ts';
import { ensureGoBuild, type GoBuild, isExecutable } from './go-build.ts';
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

/** kube-apiserver and etcd, built together from the Go modules in packages/envtest/go/. */
function controlPlaneBuild(env: EnvtestEnv): GoBuild {
  return {
    title: `kube-apiserver v${KUBERNETES_VERSION} and etcd ${ETCD_VERSION}`,
    dir: versionCacheDir(env),
    stamp: 'control-plane.json',
    lock: 'control-plane.lock',
    recipe: 1,
    identity: `${KUBERNETES_VERSION}\n${ETCD_VERSION}\n${kubeApiserverLdflags()}\n`,
    sources: fileURLToPath(new URL('../go/', import.meta.url)),
    binaries: [
      {
        outputs: ['etcd'],
        note: `building etcd ${ETCD_VERSION} (go build; modules come from the module proxy)`,
        from: { sources: 'etcd' },
        verify: { args: ['--version'], expect: `etcd Version: ${ETCD_VERSION}` },
      },
      {
        outputs: ['kube-apiserver'],
        // Measured on 2 cores: 7 to 10 minutes with cold Go caches, 15 s with a warm build cache.
        note: `building kube-apiserver v${KUBERNETES_VERSION} (minutes with a cold Go build cache, seconds with a warm one)`,
        from: { sources: 'kube-apiserver' },
        ldflags: kubeApiserverLdflags(),
        verify: { args: ['--version'], expect: `Kubernetes v${KUBERNETES_VERSION}` },
      },
    ],
    goMissing: (bin) =>
      new EnvtestError(
        'BINARIES_UNAVAILABLE',
        [
          `kube-apiserver and etcd for Kubernetes ${KUBERNETES_VERSION} are not available:`,
          '  - KUBEBUILDER_ASSETS, TEST_ASSET_KUBE_APISERVER and TEST_ASSET_ETCD are not set,',
          `  - there is no cached build in ${bin},`,
          '  - and `go` is not on PATH, so they cannot be built.',
          'Install Go 1.25 or newer and run `node packages/envtest/src/cli.ts build` (or `make envtest-binaries`),',
          'or point KUBEBUILDER_ASSETS at a directory holding kube-apiserver and etcd (e.g. from setup-envtest).',
        ].join('\n'),
      ),
  };
}

/**
 * Returns kube-apiserver and etcd: from KUBEBUILDER_ASSETS / TEST_ASSET_* when set, else from
 * the cache (<cache>/envtest/<version>/bin), else built from the Go modules in
 * packages/envtest/go/ into the cache by go-build.ts (once per version and machine; concurrent
 * callers wait for one build).
 */
export async function ensureControlPlaneBinaries(
  options: EnsureBinariesOptions = {},
): Promise<ControlPlaneBinaries> {
  const env = options.env ?? process.env;
  const assets = await resolveAssetBinaries(env);
  if (assets) return assets;
  const { binaries, source } = await ensureGoBuild(controlPlaneBuild(env), { env, log: options.log });
  return { kubeApiserver: binaries['kube-apiserver'] as string, etcd: binaries.etcd as string, source };
}

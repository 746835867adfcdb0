import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EnvtestError,
  ensureGoBuild,
  type GoBinaryRecipe,
  type GoBuild,
  isExecutable,
  KUBERNETES_VERSION,
  kubeApiserverLdflags,
} from '@switchboard/envtest';
import { ClusterError } from './errors.ts';
import { binariesCacheDir, type ClusterEnv } from './paths.ts';
import { COREDNS_VERSION, KUBE_ROUTER_VERSION, PAUSE_VERSION, TRAEFIK_VERSION } from './versions.ts';

/** Every binary the cluster runs besides etcd and kube-apiserver (those come from envtest). */
export const CLUSTER_BINARIES = [
  'kubelet',
  'kube-proxy',
  'kube-scheduler',
  'kube-controller-manager',
  'coredns',
  'traefik',
  'kube-router',
  'pause',
  'testserver',
] as const;
export type ClusterBinary = (typeof CLUSTER_BINARIES)[number];

/** Absolute paths of the cluster's binaries. */
export type ClusterBinaries = Record<ClusterBinary, string>;

/** What happened to one group of binaries, with the time it took (for the README's figures). */
export interface GroupResult {
  group: string;
  source: 'assets' | 'cache' | 'build';
  seconds: number;
}

export interface EnsureClusterBinariesOptions {
  env?: ClusterEnv;
  log?: (message: string) => void;
  /** Only these groups (default: all). */
  groups?: readonly string[];
}

/** One group: binaries built together, with one stamp in the cache (`<group>.json`). */
interface Group {
  name: string;
  /** Identifies the inputs besides the Go sources under go/<sourceDir>. */
  describe: string;
  sourceDir?: string;
  binaries: GoBinaryRecipe[];
}

const GO_SOURCES = fileURLToPath(new URL('../go/', import.meta.url));

const GROUPS: Group[] = [
  {
    // One module, one `go build` for the four: they share most of their packages, so one
    // invocation compiles each shared package once.
    name: 'kubernetes',
    describe: `kubernetes ${KUBERNETES_VERSION} ${kubeApiserverLdflags()}`,
    sourceDir: 'kube',
    binaries: [
      {
        outputs: ['kubelet', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager'],
        packages: ['./kubelet', './kube-proxy', './kube-scheduler', './kube-controller-manager'],
        ldflags: kubeApiserverLdflags(),
      },
    ],
  },
  {
    name: 'coredns',
    describe: `coredns ${COREDNS_VERSION}`,
    sourceDir: 'coredns',
    binaries: [
      {
        outputs: ['coredns'],
        ldflags: `-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}`,
      },
    ],
  },
  {
    name: 'testserver',
    describe: 'testserver',
    sourceDir: 'testserver',
    binaries: [{ outputs: ['testserver'] }],
  },
  {
    // The pause container from the Kubernetes module's own source, static, as upstream builds it.
    name: 'pause',
    describe: `pause ${PAUSE_VERSION} from kubernetes ${KUBERNETES_VERSION}`,
    binaries: [
      {
        outputs: ['pause'],
        async build(ctx) {
          const dir = await ctx.moduleDir(`k8s.io/kubernetes@v${KUBERNETES_VERSION}`);
          await ctx.step('compiling pause.c', 'gcc', [
            '-Os',
            '-static',
            '-s',
            '-Wall',
            `-DVERSION=${PAUSE_VERSION}`,
            '-o',
            join(ctx.out, 'pause'),
            join(dir, 'build/pause/linux/pause.c'),
          ]);
        },
      },
    ],
  },
  {
    // Traefik builds as its own main module (its go.mod replaces two forks). The web
    // dashboard's compiled assets are not in the module (they are built with Node upstream);
    // webui/embed.go needs the directory, so a one-page placeholder stands in. The dashboard
    // is off in this cluster.
    name: 'traefik',
    describe: `traefik ${TRAEFIK_VERSION}`,
    binaries: [
      {
        outputs: ['traefik'],
        from: { module: `github.com/traefik/traefik/v3@${TRAEFIK_VERSION}` },
        files: {
          'webui/static/index.html':
            '<!doctype html><title>Traefik</title><p>The dashboard is not part of this build.</p>\n',
        },
        packages: ['./cmd/traefik'],
        ldflags: `-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION}`,
      },
    ],
  },
  {
    // kube-router's NetworkPolicy controller (run with only --run-firewall).
    name: 'kube-router',
    describe: `kube-router ${KUBE_ROUTER_VERSION}`,
    binaries: [
      {
        outputs: ['kube-router'],
        from: { module: `github.com/cloudnativelabs/kube-router/v2@${KUBE_ROUTER_VERSION}` },
        packages: ['./cmd/kube-router'],
        ldflags: `-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION}`,
      },
    ],
  },
];

export const BINARY_GROUPS: readonly string[] = GROUPS.map((group) => group.name);

/** A group as the Go builder's declaration: its stamp beside the others, one lock for all groups. */
function goBuildOf(group: Group, dir: string): GoBuild {
  const outputs = group.binaries.flatMap((recipe) => recipe.outputs);
  return {
    title: group.name,
    dir,
    stamp: `${group.name}.json`,
    lock: 'build.lock',
    // Bump when a recipe above changes, so caches built the old way are rebuilt.
    recipe: 1,
    identity: `${group.name}\n${group.describe}\n`,
    ...(group.sourceDir ? { sources: join(GO_SOURCES, group.sourceDir) } : {}),
    binaries: group.binaries.map((recipe) => ({
      ...recipe,
      note: `building ${outputs.join(', ')} (${group.describe.split(' -')[0]})`,
    })),
    goMissing: (bin) =>
      new ClusterError(
        'BINARIES_UNAVAILABLE',
        [
          `${outputs.join(', ')} are not cached in ${bin} and \`go\` is not on PATH to build them.`,
          'Install Go 1.25 or newer, or point SWITCHBOARD_CLUSTER_ASSETS at a directory holding',
          `${outputs.join(', ')}.`,
        ].join('\n'),
      ),
  };
}

/**
 * The cluster's binaries: each group from $SWITCHBOARD_CLUSTER_ASSETS when every binary of the
 * group is there (prebuilt binaries, nothing built), else from the cache
 * (<cache>/cluster-binaries/<version>/bin, valid while its stamp matches the sources and
 * versions), else built into the cache by the tools' one Go builder
 * (packages/envtest/src/go-build.ts): in a staging directory, renamed into place, the stamp
 * last, under one lock so two callers never build at once.
 */
export async function ensureClusterBinaries(
  options: EnsureClusterBinariesOptions = {},
): Promise<{ binaries: ClusterBinaries; results: GroupResult[] }> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const dir = binariesCacheDir(env);
  const assets = env.SWITCHBOARD_CLUSTER_ASSETS;
  const binaries = {} as ClusterBinaries;
  const results: GroupResult[] = [];
  const wanted = GROUPS.filter((group) => !options.groups || options.groups.includes(group.name));
  for (const group of wanted) {
    const outputs = group.binaries.flatMap((recipe) => recipe.outputs) as ClusterBinary[];
    if (assets) {
      const paths = outputs.map((name) => join(assets, name));
      const present = await Promise.all(paths.map(isExecutable));
      if (present.every(Boolean)) {
        outputs.forEach((name, i) => {
          binaries[name] = paths[i] as string;
        });
        results.push({ group: group.name, source: 'assets', seconds: 0 });
        continue;
      }
    }
    const built = await ensureGoBuild(goBuildOf(group, dir), { env, log }).catch((error: unknown) => {
      if (error instanceof EnvtestError) {
        throw new ClusterError('BUILD_FAILED', error.message, { cause: error, output: error.output });
      }
      throw error;
    });
    for (const name of outputs) binaries[name] = built.binaries[name] as string;
    if (built.source === 'build') log(`  ${group.name}: ${built.seconds} s`);
    results.push({ group: group.name, source: built.source, seconds: built.seconds });
  }
  return { binaries, results };
}

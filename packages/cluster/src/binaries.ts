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
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  findOnPath,
  KUBERNETES_VERSION,
  kubeApiserverLdflags,
  run,
  tail,
  withFileLock,
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

// Bump when a recipe below changes, so caches built the old way are rebuilt.
const RECIPE = 1;

const GO_SOURCES = fileURLToPath(new URL('../go/', import.meta.url));

interface BuildContext {
  go: string;
  env: ClusterEnv;
  staging: string;
  out: string;
  log: (message: string) => void;
}

interface Group {
  name: string;
  outputs: ClusterBinary[];
  /** Identifies the inputs besides the Go sources under go/<sourceDir>. */
  describe: string;
  sourceDir?: string;
  needsGo: boolean;
  build(ctx: BuildContext): Promise<void>;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function goEnv(env: ClusterEnv): ClusterEnv {
  return {
    ...env,
    // -mod=mod: go may complete go.mod in the copied sources; modules are still checked
    // against go.sum and the checksum database. No VCS in the copied tree to stamp.
    GOFLAGS: '-mod=mod -buildvcs=false',
    // Static binaries, no C toolchain.
    CGO_ENABLED: '0',
  };
}

async function runStep(
  what: string,
  command: string,
  args: string[],
  options: { cwd?: string; env: ClusterEnv; log: (message: string) => void },
): Promise<string> {
  const started = Date.now();
  const heartbeat = setInterval(
    () => options.log(`  still ${what} (${Math.round((Date.now() - started) / 1000)} s)`),
    60_000,
  );
  heartbeat.unref();
  const result = await run(command, args, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: options.env,
  }).finally(() => clearInterval(heartbeat));
  if (result.code !== 0) {
    throw new ClusterError(
      'BUILD_FAILED',
      `${what} failed (exit ${result.code}): ${command} ${args.join(' ')}`,
      {
        output: tail(result.stderr + result.stdout),
      },
    );
  }
  return result.stdout;
}

async function goBuild(ctx: BuildContext, cwd: string, ldflags: string, out: string, packages: string[]) {
  await runStep(
    `building ${packages.join(' ')} in ${relative(ctx.staging, cwd) || '.'}`,
    ctx.go,
    ['build', '-trimpath', '-ldflags', ldflags, '-o', out, ...packages],
    { cwd, env: goEnv(ctx.env), log: ctx.log },
  );
}

/** `go mod download` of one module version; returns its (read-only) directory in the module cache. */
async function moduleDir(ctx: BuildContext, module: string): Promise<string> {
  const stdout = await runStep(`downloading ${module}`, ctx.go, ['mod', 'download', '-json', module], {
    cwd: ctx.staging,
    env: { ...goEnv(ctx.env), GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
    log: ctx.log,
  });
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!info.Dir)
    throw new ClusterError('BUILD_FAILED', `go mod download ${module}: ${info.Error ?? 'no Dir'}`);
  return info.Dir;
}

/** A module's own tree, copied out of the module cache so it builds as the main module (its replace directives apply). */
async function copyModule(ctx: BuildContext, module: string, name: string): Promise<string> {
  const dir = join(ctx.staging, 'src', name);
  await cp(await moduleDir(ctx, module), dir, { recursive: true });
  await runStep('making the copied module writable', 'chmod', ['-R', 'u+w', dir], {
    env: ctx.env,
    log: ctx.log,
  });
  return dir;
}

async function copySources(ctx: BuildContext, sourceDir: string): Promise<string> {
  const dir = join(ctx.staging, 'src', sourceDir);
  await cp(join(GO_SOURCES, sourceDir), dir, { recursive: true });
  return dir;
}

const GROUPS: Group[] = [
  {
    // One module, one `go build` for the four: they share most of their packages, so one
    // invocation compiles each shared package once.
    name: 'kubernetes',
    outputs: ['kubelet', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager'],
    describe: `kubernetes ${KUBERNETES_VERSION} ${kubeApiserverLdflags()}`,
    sourceDir: 'kube',
    needsGo: true,
    async build(ctx) {
      const src = await copySources(ctx, 'kube');
      await goBuild(ctx, src, kubeApiserverLdflags(), `${ctx.out}/`, [
        './kubelet',
        './kube-proxy',
        './kube-scheduler',
        './kube-controller-manager',
      ]);
    },
  },
  {
    name: 'coredns',
    outputs: ['coredns'],
    describe: `coredns ${COREDNS_VERSION}`,
    sourceDir: 'coredns',
    needsGo: true,
    async build(ctx) {
      const src = await copySources(ctx, 'coredns');
      await goBuild(
        ctx,
        src,
        `-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}`,
        join(ctx.out, 'coredns'),
        ['.'],
      );
    },
  },
  {
    name: 'testserver',
    outputs: ['testserver'],
    describe: 'testserver',
    sourceDir: 'testserver',
    needsGo: true,
    async build(ctx) {
      const src = await copySources(ctx, 'testserver');
      await goBuild(ctx, src, '-s -w', join(ctx.out, 'testserver'), ['.']);
    },
  },
  {
    // The pause container from the Kubernetes module's own source, static, as upstream builds it.
    name: 'pause',
    outputs: ['pause'],
    describe: `pause ${PAUSE_VERSION} from kubernetes ${KUBERNETES_VERSION}`,
    needsGo: true,
    async build(ctx) {
      const dir = await moduleDir(ctx, `k8s.io/kubernetes@v${KUBERNETES_VERSION}`);
      await runStep(
        'compiling pause.c',
        'gcc',
        [
          '-Os',
          '-static',
          '-s',
          '-Wall',
          `-DVERSION=${PAUSE_VERSION}`,
          '-o',
          join(ctx.out, 'pause'),
          join(dir, 'build/pause/linux/pause.c'),
        ],
        { env: ctx.env, log: ctx.log },
      );
    },
  },
  {
    // Traefik builds as its own main module (its go.mod replaces two forks). The web
    // dashboard's compiled assets are not in the module (they are built with Node upstream);
    // webui/embed.go needs the directory, so a one-page placeholder stands in. The dashboard
    // is off in this cluster.
    name: 'traefik',
    outputs: ['traefik'],
    describe: `traefik ${TRAEFIK_VERSION}`,
    needsGo: true,
    async build(ctx) {
      const src = await copyModule(ctx, `github.com/traefik/traefik/v3@${TRAEFIK_VERSION}`, 'traefik');
      await mkdir(join(src, 'webui', 'static'), { recursive: true });
      await writeFile(
        join(src, 'webui', 'static', 'index.html'),
        '<!doctype html><title>Traefik</title><p>The dashboard is not part of this build.</p>\n',
      );
      await goBuild(
        ctx,
        src,
        `-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION}`,
        join(ctx.out, 'traefik'),
        ['./cmd/traefik'],
      );
    },
  },
  {
    // kube-router's NetworkPolicy controller (run with only --run-firewall).
    name: 'kube-router',
    outputs: ['kube-router'],
    describe: `kube-router ${KUBE_ROUTER_VERSION}`,
    needsGo: true,
    async build(ctx) {
      const src = await copyModule(
        ctx,
        `github.com/cloudnativelabs/kube-router/v2@${KUBE_ROUTER_VERSION}`,
        'kube-router',
      );
      await goBuild(
        ctx,
        src,
        `-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION}`,
        join(ctx.out, 'kube-router'),
        ['./cmd/kube-router'],
      );
    },
  },
];

export const BINARY_GROUPS: readonly string[] = GROUPS.map((group) => group.name);

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

async function fingerprint(group: Group): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`recipe ${RECIPE}\n${group.name}\n${group.describe}\n`);
  if (group.sourceDir) {
    const dir = join(GO_SOURCES, group.sourceDir);
    for (const file of await listFiles(dir)) {
      hash.update(`${relative(dir, file)}\n`);
      hash.update(await readFile(file));
    }
  }
  return hash.digest('hex');
}

interface Stamp {
  fingerprint: string;
  builtAt: string;
  buildSeconds: number;
}

function stampPath(dir: string, group: Group): string {
  return join(dir, `${group.name}.json`);
}

async function cachedOk(dir: string, group: Group, print: string): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(stampPath(dir, group), 'utf8')) as Stamp;
    if (stamp.fingerprint !== print) return false;
  } catch {
    return false;
  }
  for (const name of group.outputs) if (!(await isExecutable(join(dir, 'bin', name)))) return false;
  return true;
}

/**
 * The cluster's binaries: each group from $SWITCHBOARD_CLUSTER_ASSETS when every binary of the
 * group is there (prebuilt binaries, nothing built), else from the cache
 * (<cache>/cluster-binaries/<version>/bin, valid while its stamp matches the sources and
 * versions), else built into the cache: in a staging directory, renamed into place, the stamp
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
  const pending: Group[] = [];
  for (const group of wanted) {
    if (assets) {
      const paths = group.outputs.map((name) => join(assets, name));
      const present = await Promise.all(paths.map(isExecutable));
      if (present.every(Boolean)) {
        group.outputs.forEach((name, i) => {
          binaries[name] = paths[i] as string;
        });
        results.push({ group: group.name, source: 'assets', seconds: 0 });
        continue;
      }
    }
    pending.push(group);
  }
  if (pending.length === 0) return { binaries, results };

  await mkdir(join(dir, 'bin'), { recursive: true });
  const go = await findOnPath('go', env);
  await withFileLock(
    join(dir, 'build.lock'),
    async () => {
      for (const entry of await readdir(dir)) {
        if (entry.startsWith('.build-')) await rm(join(dir, entry), { recursive: true, force: true });
      }
      for (const group of pending) {
        const print = await fingerprint(group);
        if (await cachedOk(dir, group, print)) {
          results.push({ group: group.name, source: 'cache', seconds: 0 });
          continue;
        }
        if (group.needsGo && !go) {
          throw new ClusterError(
            'BINARIES_UNAVAILABLE',
            [
              `${group.outputs.join(', ')} are not cached in ${join(dir, 'bin')} and \`go\` is not on PATH to build them.`,
              'Install Go 1.25 or newer, or point SWITCHBOARD_CLUSTER_ASSETS at a directory holding',
              `${group.outputs.join(', ')}.`,
            ].join('\n'),
          );
        }
        const started = Date.now();
        log(`building ${group.outputs.join(', ')} (${group.describe.split(' -')[0]})`);
        const staging = await mkdtemp(join(dir, '.build-'));
        try {
          const out = join(staging, 'out');
          await mkdir(out, { recursive: true });
          await group.build({ go: go ?? 'go', env, staging, out, log });
          await rm(stampPath(dir, group), { force: true });
          for (const name of group.outputs) {
            await chmod(join(out, name), 0o755);
            await rename(join(out, name), join(dir, 'bin', name));
          }
          const seconds = Math.round((Date.now() - started) / 1000);
          const stamp: Stamp = {
            fingerprint: print,
            builtAt: new Date().toISOString(),
            buildSeconds: seconds,
          };
          await writeFile(join(staging, 'stamp.json'), `${JSON.stringify(stamp, null, 2)}\n`);
          await rename(join(staging, 'stamp.json'), stampPath(dir, group));
          log(`  ${group.name}: ${seconds} s`);
          results.push({ group: group.name, source: 'build', seconds });
        } finally {
          await rm(staging, { recursive: true, force: true });
        }
      }
    },
    { onWait: (owner) => log(`waiting for another build of the cluster binaries (lock held by ${owner})`) },
  );
  for (const group of pending) {
    for (const name of group.outputs) binaries[name] = join(dir, 'bin', name);
  }
  return { binaries, results };
}

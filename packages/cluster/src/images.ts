import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KUBERNETES_VERSION, run, tail, withFileLock } from '@switchboard/envtest';
import type { ClusterBinaries, ClusterBinary } from './binaries.ts';
import { ClusterError } from './errors.ts';
import { binariesCacheDir, type ClusterEnv } from './paths.ts';
import { COREDNS_VERSION, PAUSE_VERSION, TRAEFIK_VERSION } from './versions.ts';

/** An image the cluster runs, built FROM scratch around one static binary. */
interface ClusterImageSpec {
  binary: ClusterBinary;
  ref: string;
  user: string;
}

/** The cluster's own images (nothing is pulled): references as the pods name them. */
export const CLUSTER_IMAGES = {
  pause: `localhost/switchboard/pause:${PAUSE_VERSION}`,
  coredns: `localhost/switchboard/coredns:${COREDNS_VERSION}`,
  traefik: `localhost/switchboard/traefik:${TRAEFIK_VERSION}`,
  testserver: 'localhost/switchboard/testserver:latest',
} as const;

const SPECS: ClusterImageSpec[] = [
  // The pause container runs as 65535, as upstream's image does.
  { binary: 'pause', ref: CLUSTER_IMAGES.pause, user: '65535:65535' },
  { binary: 'coredns', ref: CLUSTER_IMAGES.coredns, user: '65532:65532' },
  { binary: 'traefik', ref: CLUSTER_IMAGES.traefik, user: '65532:65532' },
  { binary: 'testserver', ref: CLUSTER_IMAGES.testserver, user: '65532:65532' },
];

// A fixed creation time: the same binary gives the same image.
const EPOCH = '1700000000';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function must(command: string, args: string[], what: string): Promise<string> {
  const result = await run(command, args, { env: process.env });
  if (result.code !== 0) {
    throw new ClusterError('COMMAND_FAILED', `${what} failed (exit ${result.code})`, {
      output: tail(result.stderr + result.stdout),
    });
  }
  return result.stdout;
}

/**
 * Builds (or reuses) an image archive per cluster image with podman: FROM scratch, the one
 * static binary, a non-root user. Archives are cached beside the binaries, named by the
 * binary's hash, so a rebuilt binary gives a new image. Returns archive paths by reference.
 */
export async function ensureClusterImageArchives(
  binaries: ClusterBinaries,
  options: { env?: ClusterEnv; log?: (message: string) => void } = {},
): Promise<Map<string, string>> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const dir = join(binariesCacheDir(env, KUBERNETES_VERSION), 'images');
  await mkdir(dir, { recursive: true });
  const archives = new Map<string, string>();
  await withFileLock(join(dir, 'images.lock'), async () => {
    for (const spec of SPECS) {
      const hash = (await sha256(binaries[spec.binary])).slice(0, 16);
      const archive = join(dir, `${spec.binary}-${hash}.tar`);
      archives.set(spec.ref, archive);
      // Archives of an earlier build of the same binary are stale.
      for (const name of await readdir(dir)) {
        if (name.startsWith(`${spec.binary}-`) && name.endsWith('.tar') && join(dir, name) !== archive) {
          await rm(join(dir, name), { force: true });
        }
      }
      if (await exists(archive)) continue;
      log(`building the image ${spec.ref}`);
      const context = await mkdtemp(join(dir, '.context-'));
      try {
        await copyFile(binaries[spec.binary], join(context, spec.binary));
        await writeFile(
          join(context, 'Containerfile'),
          [
            'FROM scratch',
            `COPY ${spec.binary} /${spec.binary}`,
            `USER ${spec.user}`,
            `ENTRYPOINT ["/${spec.binary}"]`,
            '',
          ].join('\n'),
        );
        await must(
          'podman',
          ['build', '--quiet', '--network', 'none', '--timestamp', EPOCH, '--tag', spec.ref, context],
          `podman build of ${spec.ref}`,
        );
        // docker-archive keeps the reference in the archive; ctr import names the image by it.
        await must(
          'podman',
          ['save', '--quiet', '--format', 'docker-archive', '--output', join(context, 'image.tar'), spec.ref],
          `podman save of ${spec.ref}`,
        );
        await rename(join(context, 'image.tar'), archive);
      } finally {
        await rm(context, { recursive: true, force: true });
      }
    }
  });
  return archives;
}

/** Imports image archives into containerd's k8s.io namespace (what the kubelet sees). */
export async function importImages(socket: string, archives: Iterable<string>): Promise<void> {
  for (const archive of archives) {
    await must(
      'ctr',
      ['--address', socket, '--namespace', 'k8s.io', 'images', 'import', archive],
      `ctr images import ${archive}`,
    );
  }
}

/** The references containerd holds in its k8s.io namespace. */
export async function listImages(socket: string): Promise<string[]> {
  const out = await must(
    'ctr',
    ['--address', socket, '--namespace', 'k8s.io', 'images', 'list', '--quiet'],
    'ctr images list',
  );
  return out.split('\n').filter(Boolean);
}

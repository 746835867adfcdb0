// How kube-apiserver and etcd are found: the envtest variables first, then the cache, then a
// build; and the message when none of these can work.
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureControlPlaneBinaries, kubeApiserverLdflags, resolveAssetBinaries } from './binaries.ts';
import { EnvtestError } from './errors.ts';
import { KUBERNETES_VERSION } from './versions.ts';

let scratch: string;
let assets: string;
let other: string;
let empty: string;

async function fakeBinary(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, '#!/bin/sh\nexit 0\n');
  await chmod(path, 0o755);
  return path;
}

async function failure(promise: Promise<unknown>): Promise<EnvtestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EnvtestError);
  return error as EnvtestError;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'envtest-binaries-'));
  assets = join(scratch, 'assets');
  other = join(scratch, 'other');
  empty = join(scratch, 'empty');
  await Promise.all([mkdir(assets), mkdir(other), mkdir(empty)]);
  await fakeBinary(assets, 'kube-apiserver');
  await fakeBinary(assets, 'etcd');
  await fakeBinary(other, 'etcd');
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('resolveAssetBinaries', () => {
  it('returns undefined when no envtest variable is set', async () => {
    expect(await resolveAssetBinaries({ PATH: '/usr/bin' })).toBeUndefined();
  });

  it('takes both binaries from KUBEBUILDER_ASSETS', async () => {
    expect(await resolveAssetBinaries({ KUBEBUILDER_ASSETS: assets })).toEqual({
      kubeApiserver: join(assets, 'kube-apiserver'),
      etcd: join(assets, 'etcd'),
      source: 'assets',
    });
  });

  it('lets TEST_ASSET_<NAME> override KUBEBUILDER_ASSETS for one binary', async () => {
    const resolved = await resolveAssetBinaries({
      KUBEBUILDER_ASSETS: assets,
      TEST_ASSET_ETCD: join(other, 'etcd'),
    });
    expect(resolved).toMatchObject({
      kubeApiserver: join(assets, 'kube-apiserver'),
      etcd: join(other, 'etcd'),
    });
  });

  it('works with the two TEST_ASSET variables alone', async () => {
    const resolved = await resolveAssetBinaries({
      TEST_ASSET_KUBE_APISERVER: join(assets, 'kube-apiserver'),
      TEST_ASSET_ETCD: join(other, 'etcd'),
    });
    expect(resolved).toMatchObject({
      kubeApiserver: join(assets, 'kube-apiserver'),
      etcd: join(other, 'etcd'),
    });
  });

  it('names the variable when it leads to no executable', async () => {
    const missing = await failure(resolveAssetBinaries({ KUBEBUILDER_ASSETS: other }));
    expect(missing.code).toBe('BINARIES_UNAVAILABLE');
    expect(missing.message).toContain(
      `kube-apiserver from KUBEBUILDER_ASSETS is not an executable file: ${other}`,
    );

    const wrong = await failure(
      resolveAssetBinaries({
        TEST_ASSET_KUBE_APISERVER: join(empty, 'nope'),
        TEST_ASSET_ETCD: join(other, 'etcd'),
      }),
    );
    expect(wrong.message).toContain('from TEST_ASSET_KUBE_APISERVER');
  });

  it('asks for the missing half when only one TEST_ASSET variable is set', async () => {
    const error = await failure(
      resolveAssetBinaries({ TEST_ASSET_KUBE_APISERVER: join(assets, 'kube-apiserver') }),
    );
    expect(error.message).toContain('TEST_ASSET_ETCD is not set');
  });
});

describe('ensureControlPlaneBinaries', () => {
  it('uses KUBEBUILDER_ASSETS and builds nothing, even without Go', async () => {
    const cache = join(scratch, 'cache-assets');
    const binaries = await ensureControlPlaneBinaries({
      env: { KUBEBUILDER_ASSETS: assets, PATH: empty, SWITCHBOARD_CACHE: cache },
    });
    expect(binaries.source).toBe('assets');
    await expect(readdir(cache)).rejects.toThrow(); // never created
  });

  it('explains what to do when there is no Go, no cache and no assets', async () => {
    const cache = join(scratch, 'cache-empty');
    const error = await failure(
      ensureControlPlaneBinaries({ env: { PATH: empty, SWITCHBOARD_CACHE: cache } }),
    );
    expect(error.code).toBe('BINARIES_UNAVAILABLE');
    expect(error.message).toContain(`Kubernetes ${KUBERNETES_VERSION}`);
    expect(error.message).toContain('`go` is not on PATH');
    expect(error.message).toContain('KUBEBUILDER_ASSETS');
    expect(error.message).toContain('node packages/envtest/src/cli.ts build');
    expect(error.message).toContain(join(cache, 'envtest', KUBERNETES_VERSION, 'bin'));
  });

  it('finds the cache under $SWITCHBOARD_CACHE/envtest/<version> when it is there', async () => {
    // The run's real cache (the global setup built or reused it), found with no Go on PATH.
    const binaries = await ensureControlPlaneBinaries({ env: { ...process.env, PATH: empty } });
    if (binaries.source === 'assets') return; // this run uses KUBEBUILDER_ASSETS instead
    expect(binaries.source).toBe('cache');
    expect(binaries.kubeApiserver).toMatch(new RegExp(`/envtest/${KUBERNETES_VERSION}/bin/kube-apiserver$`));
  });
});

describe('kubeApiserverLdflags', () => {
  it('stamps the version where kube-apiserver and client-go read it', () => {
    const flags = kubeApiserverLdflags('1.35.4');
    expect(flags).toContain('-X k8s.io/component-base/version.gitVersion=v1.35.4');
    expect(flags).toContain('-X k8s.io/component-base/version.gitMajor=1');
    expect(flags).toContain('-X k8s.io/component-base/version.gitMinor=35');
    expect(flags).toContain('-X k8s.io/client-go/pkg/version.gitVersion=v1.35.4');
  });
});

import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ensureTiltBinary,
  GO_SUM_OVERRIDES,
  TILT_VERSION,
  tiltCachePaths,
  tiltFingerprint,
  withoutOverriddenSums,
} from './tilt-binary.ts';

// The lookup order and the cache's validity, on a cache folder of the test's own. The cold build
// itself (tens of minutes) is `make tilt-binary`; its measured time is in the README.
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devloop-tilt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function executable(path: string): Promise<string> {
  await writeFile(path, '#!/bin/sh\necho tilt\n');
  await chmod(path, 0o755);
  return path;
}

describe('ensureTiltBinary', () => {
  it('takes SWITCHBOARD_TILT_BINARY when it names an executable, and refuses one that does not', async () => {
    const given = await executable(join(dir, 'my-tilt'));
    await expect(ensureTiltBinary({ env: { SWITCHBOARD_TILT_BINARY: given } })).resolves.toEqual({
      path: given,
      source: 'env',
    });
    await expect(ensureTiltBinary({ env: { SWITCHBOARD_TILT_BINARY: join(dir, 'absent') } })).rejects.toThrow(
      /SWITCHBOARD_TILT_BINARY is not an executable file/,
    );
  });

  it('reuses the cached build while its stamp matches the recipe, and says how to get one otherwise', async () => {
    const env = { SWITCHBOARD_CACHE: dir, PATH: join(dir, 'no-go-here') };
    const paths = tiltCachePaths(env);
    expect(paths.tilt).toBe(join(dir, 'tilt', TILT_VERSION, 'bin', 'tilt'));
    await mkdir(paths.bin, { recursive: true });
    await executable(paths.tilt);

    await writeFile(
      paths.stamp,
      JSON.stringify({ fingerprint: await tiltFingerprint(), tiltVersion: TILT_VERSION }),
    );
    await expect(ensureTiltBinary({ env })).resolves.toEqual({ path: paths.tilt, source: 'cache' });

    // A stamp from another recipe is no cache: without go on PATH that is a clear error.
    await writeFile(
      paths.stamp,
      JSON.stringify({ fingerprint: 'another recipe', tiltVersion: TILT_VERSION }),
    );
    await expect(ensureTiltBinary({ env })).rejects.toThrow(/`go` is not on PATH.*\n.*make tilt-binary/);
  });
});

describe('withoutOverriddenSums', () => {
  it('drops exactly the overridden go.sum lines and keeps the rest', () => {
    const override = GO_SUM_OVERRIDES[0] as string;
    const goMod = 'github.com/docker/buildx v0.32.1/go.mod h1:46Le9J2gV41DJ3zuGBc+Lf+ASYA4saGd0y/dGly8Wmg=';
    const other = 'github.com/docker/cli v29.3.0+incompatible h1:abc=';
    expect(withoutOverriddenSums([other, override, goMod, ''].join('\n'))).toBe(
      [other, goMod, ''].join('\n'),
    );
  });
});

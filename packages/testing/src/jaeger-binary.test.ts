import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureJaegerBinary, JAEGER_VERSION, jaegerCachePaths } from './jaeger-binary.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cst-testing-jaeger-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the Jaeger binary', () => {
  it('is the release go/jaeger/go.mod requires, built as its tool', async () => {
    const goMod = await readFile(new URL('../go/jaeger/go.mod', import.meta.url), 'utf8');
    expect(goMod).toMatch(/^tool github\.com\/jaegertracing\/jaeger\/cmd\/jaeger$/m);
    expect(goMod).toMatch(
      new RegExp(
        `^\\s*github\\.com/jaegertracing/jaeger v${JAEGER_VERSION.replaceAll('.', '\\.')}( |$)`,
        'm',
      ),
    );
  });

  it('is cached per version under SWITCHBOARD_CACHE', () => {
    expect(jaegerCachePaths({ SWITCHBOARD_CACHE: '/c' })).toMatchObject({
      binary: `/c/jaeger/${JAEGER_VERSION}/bin/jaeger`,
      stamp: `/c/jaeger/${JAEGER_VERSION}/jaeger.json`,
      lock: `/c/jaeger/${JAEGER_VERSION}/jaeger.lock`,
    });
  });

  it('takes SWITCHBOARD_JAEGER_BINARY as given, and refuses one that is not executable', async () => {
    const file = join(dir, 'jaeger');
    await writeFile(file, '#!/bin/sh\n');
    await expect(ensureJaegerBinary({ env: { SWITCHBOARD_JAEGER_BINARY: file } })).rejects.toThrow(
      `SWITCHBOARD_JAEGER_BINARY is not an executable file: ${file}`,
    );
    await chmod(file, 0o755);
    await expect(ensureJaegerBinary({ env: { SWITCHBOARD_JAEGER_BINARY: file } })).resolves.toEqual({
      path: file,
      source: 'env',
    });
  });

  it('says what to do when there is no cache and no Go to build with', async () => {
    await expect(
      ensureJaegerBinary({ env: { SWITCHBOARD_CACHE: join(dir, 'cache'), PATH: dir } }),
    ).rejects.toThrow(/Jaeger .* is not available: .*`go` is not on PATH.*make jaeger-binary/s);
  });
});

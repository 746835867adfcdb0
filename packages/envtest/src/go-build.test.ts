// The one Go builder's declarations, with a stand-in `go` on PATH so it runs in milliseconds: a
// module copied out of the module cache with its edits (go.sum lines dropped, files written), cgo
// where asked, several outputs from one `go build`, a step of a recipe's own, and the fingerprint
// that decides whether a cache is reused. The orchestration (staging, stamp, lock, one build for
// concurrent callers, nothing cached after a failure) is covered through envtest's own build in
// build.test.ts; the real Go builds run in the make targets.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvtestError } from './errors.ts';
import {
  ensureGoBinary,
  ensureGoBuild,
  type GoBinaryBuild,
  type GoBuild,
  goBinaryPaths,
  goBuildFingerprint,
  withoutGoSumLines,
} from './go-build.ts';

let scratch: string;
let goDir: string;
let moduleDir: string;
let calls: string;

// Records each call (cwd, CGO_ENABLED, arguments); `mod download -json` answers with the stand-in
// module cache entry; `build` copies what the tree holds (go.sum, the placeholder) next to each
// output so the test can see what it built from, and writes executables that print "fake v1".
const fakeGo = `#!/bin/sh
echo "$PWD cgo=$CGO_ENABLED $*" >> "$FAKE_GO_CALLS"
if [ "$1" = mod ]; then printf '{"Dir": "%s"}\\n' "$FAKE_MODULE_DIR"; exit 0; fi
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    ./*) pkgs="$pkgs $1" ;;
  esac
  shift
done
write() { printf '#!/bin/sh\\necho fake v1\\n' > "$1"; chmod +x "$1"; }
case "$out" in
  */) for p in $pkgs; do write "$out$(basename "$p")"; done ;;
  *) write "$out"; cat go.sum > "$out.go.sum" 2>/dev/null; cat page.html > "$out.page" 2>/dev/null ;;
esac
exit 0
`;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'envtest-go-build-'));
  goDir = join(scratch, 'go-bin');
  moduleDir = join(scratch, 'modcache', 'example.com', 'tool@v1.0.0');
  calls = join(scratch, 'calls.log');
  await mkdir(goDir);
  await writeFile(join(goDir, 'go'), fakeGo);
  await chmod(join(goDir, 'go'), 0o755);
  await mkdir(moduleDir, { recursive: true });
  await writeFile(join(moduleDir, 'go.mod'), 'module example.com/tool\n');
  await writeFile(join(moduleDir, 'go.sum'), 'a v1 h1:good=\nb v1 h1:wrong=\nc v1 h1:good=\n');
  // The module cache is read-only.
  await chmod(join(moduleDir, 'go.sum'), 0o444);
  await chmod(moduleDir, 0o555);
});
afterAll(async () => {
  await chmod(moduleDir, 0o755);
  await rm(scratch, { recursive: true, force: true });
});

const envFor = (extra: Record<string, string> = {}) => ({
  PATH: `${goDir}:/usr/bin:/bin`,
  FAKE_GO_CALLS: calls,
  FAKE_MODULE_DIR: moduleDir,
  ...extra,
});
const goCalls = async () => (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter(Boolean);

function toolBuild(dir: string, overrides: Partial<GoBuild> = {}): GoBuild {
  return {
    title: 'tool 1.0.0',
    dir,
    stamp: 'tool.json',
    lock: 'tool.lock',
    recipe: 1,
    identity: 'example.com/tool@v1.0.0\n',
    binaries: [
      {
        outputs: ['tool'],
        from: { module: 'example.com/tool@v1.0.0' },
        packages: ['./cmd/tool'],
        cgo: true,
        dropGoSumLines: ['b v1 h1:wrong='],
        files: { 'page.html': '<p>placeholder</p>\n' },
        verify: { args: ['version'], expect: 'fake v1' },
      },
    ],
    goMissing: (bin) => new Error(`no go, no cache in ${bin}`),
    ...overrides,
  };
}

describe('ensureGoBuild', () => {
  it('builds a module as the main module with its declared edits and cgo, then reuses it', async () => {
    await rm(calls, { force: true });
    const dir = join(scratch, 'cache-module');
    const built = await ensureGoBuild(toolBuild(dir), { env: envFor() });
    expect(built).toMatchObject({ binaries: { tool: join(dir, 'bin', 'tool') }, source: 'build' });
    const [download, build] = await goCalls();
    expect(download).toContain('mod download -json example.com/tool@v1.0.0');
    expect(build).toMatch(/ cgo=1 build -trimpath -ldflags -s -w -o .*\/tool \.\/cmd\/tool$/);
    // Built in a writable copy beside the cache, never in the module cache.
    expect(build?.startsWith(join(dir, '.build-'))).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['bin', 'tool.json']);

    expect((await ensureGoBuild(toolBuild(dir), { env: envFor() })).source).toBe('cache');
    expect(await goCalls()).toHaveLength(2);
  });

  it('drops exactly the declared go.sum lines and writes the declared files into the tree', async () => {
    const dir = join(scratch, 'cache-edits');
    // The stand-in go leaves what it built from beside the output; keep them by building the
    // edits' witnesses as outputs of a second recipe that copies them.
    const build = toolBuild(dir);
    const recipe = build.binaries[0];
    const result = await ensureGoBuild(
      {
        ...build,
        binaries: [
          recipe!,
          {
            outputs: ['seen-go-sum', 'seen-page'],
            build: async (ctx) => {
              await ctx.step('keeping the witnesses', 'sh', [
                '-c',
                `cp "$0/tool.go.sum" "$0/seen-go-sum" && cp "$0/tool.page" "$0/seen-page"`,
                ctx.out,
              ]);
            },
          },
        ],
      },
      { env: envFor() },
    );
    expect(await readFile(result.binaries['seen-go-sum'] as string, 'utf8')).toBe(
      'a v1 h1:good=\nc v1 h1:good=\n',
    );
    expect(await readFile(result.binaries['seen-page'] as string, 'utf8')).toBe('<p>placeholder</p>\n');
  });

  it('installs every output of one go build of several packages, statically by default', async () => {
    await rm(calls, { force: true });
    const sources = join(scratch, 'sources');
    await mkdir(join(sources, 'kube'), { recursive: true });
    await writeFile(join(sources, 'kube', 'go.mod'), 'module kube\n');
    const dir = join(scratch, 'cache-several');
    const built = await ensureGoBuild(
      toolBuild(dir, {
        sources,
        binaries: [{ outputs: ['a', 'b'], from: { sources: 'kube' }, packages: ['./a', './b'] }],
      }),
      { env: envFor() },
    );
    expect(Object.keys(built.binaries).sort()).toEqual(['a', 'b']);
    const [build] = await goCalls();
    expect(build).toContain(' cgo=0 build ');
    expect(build).toMatch(/\/out\/ \.\/a \.\/b$/);
  });

  it('rebuilds when a source file changes, since the fingerprint covers the sources', async () => {
    const sources = join(scratch, 'sources-fp');
    await mkdir(sources, { recursive: true });
    await writeFile(join(sources, 'main.go'), 'package main\n');
    const declared = { recipe: 1, identity: 'x\n', sources };
    const before = await goBuildFingerprint(declared);
    expect(await goBuildFingerprint(declared)).toBe(before);
    await writeFile(join(sources, 'main.go'), 'package main // changed\n');
    expect(await goBuildFingerprint(declared)).not.toBe(before);
    expect(await goBuildFingerprint({ ...declared, recipe: 2 })).not.toBe(await goBuildFingerprint(declared));
  });

  it('fails with the output of the step, caches nothing, and asks the declaration when go is missing', async () => {
    const dir = join(scratch, 'cache-verify');
    const wrong = toolBuild(dir);
    const failing = {
      ...wrong,
      binaries: [{ ...wrong.binaries[0]!, verify: { args: ['version'], expect: 'v2' } }],
    };
    const error = await ensureGoBuild(failing, { env: envFor() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvtestError);
    expect((error as EnvtestError).code).toBe('BUILD_FAILED');
    expect((error as EnvtestError).message).toContain('printed "fake v1", expected v2');
    expect(await readdir(dir)).toEqual([]);

    await expect(ensureGoBuild(wrong, { env: { PATH: join(scratch, 'nowhere') } })).rejects.toThrow(
      `no go, no cache in ${join(dir, 'bin')}`,
    );
  });
});

describe('ensureGoBinary', () => {
  it('prefers the variable, then <cache>/<name>/<version>, and names the make target when go is missing', async () => {
    const cache = join(scratch, 'cache-binary');
    const { binaries, recipe, identity } = toolBuild(cache);
    const declared: GoBinaryBuild = {
      name: 'tool',
      title: 'Tool',
      version: '1.0.0',
      recipe,
      identity,
      binary: binaries[0]!,
      envVar: 'TOOL_BINARY',
      makeTarget: 'tool-binary',
      goVersion: '1.25',
    };
    const env = (extra: Record<string, string> = {}) => envFor({ SWITCHBOARD_CACHE: cache, ...extra });
    const paths = goBinaryPaths(declared, env());
    expect(paths).toMatchObject({
      binary: join(cache, 'tool', '1.0.0', 'bin', 'tool'),
      stamp: join(cache, 'tool', '1.0.0', 'tool.json'),
      lock: join(cache, 'tool', '1.0.0', 'tool.lock'),
    });
    await expect(
      ensureGoBinary(declared, { env: { ...env(), PATH: join(scratch, 'nowhere') } }),
    ).rejects.toThrow(
      /Tool 1\.0\.0 is not available: TOOL_BINARY is not set.*\n.*`go` is not on PATH.*\n.*make tool-binary`, or point TOOL_BINARY at a Tool binary/,
    );
    const built = await ensureGoBinary(declared, { env: env() });
    expect(built).toMatchObject({ path: paths.binary, source: 'build' });
    expect(await ensureGoBinary(declared, { env: env() })).toEqual({ path: built.path, source: 'cache' });
    expect(await ensureGoBinary(declared, { env: env({ TOOL_BINARY: built.path }) })).toEqual({
      path: built.path,
      source: 'env',
    });
    await expect(
      ensureGoBinary(declared, { env: env({ TOOL_BINARY: join(scratch, 'absent') }) }),
    ).rejects.toThrow(`TOOL_BINARY is not an executable file: ${join(scratch, 'absent')}`);
  });
});

describe('withoutGoSumLines', () => {
  it('drops exactly the given lines and keeps the rest', () => {
    expect(withoutGoSumLines('a\nb \nb/go.mod\n', new Set(['b']))).toBe('a\nb/go.mod\n');
  });
});

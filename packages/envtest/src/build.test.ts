// The build orchestration (staging, atomic install, stamp, reuse, one build for concurrent
// callers, nothing cached after a failure), with a stand-in `go` on PATH so it runs in
// milliseconds. The real Go build runs in `cli.ts build` (CI runs it before the tests).
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureControlPlaneBinaries } from './binaries.ts';
import { EnvtestError } from './errors.ts';
import { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';

let scratch: string;
let goDir: string;
let calls: string;

// Records each call (cwd and arguments) and writes a binary whose --version prints what the
// real one would; FAKE_GO_FAIL makes it fail like a compile error.
const fakeGo = `#!/bin/sh
echo "$PWD $*" >> "$FAKE_GO_CALLS"
if [ -n "$FAKE_GO_FAIL" ]; then echo "main.go:3:1: syntax error" >&2; exit 1; fi
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then out="$2"; fi
  shift
done
case "$(basename "$out")" in
  kube-apiserver) printf '#!/bin/sh\\necho "Kubernetes v${KUBERNETES_VERSION}"\\n' > "$out" ;;
  etcd) printf '#!/bin/sh\\necho "etcd Version: ${ETCD_VERSION}"\\n' > "$out" ;;
esac
chmod +x "$out"
`;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'envtest-build-'));
  goDir = join(scratch, 'go-bin');
  calls = join(scratch, 'calls.log');
  await mkdir(goDir);
  await writeFile(join(goDir, 'go'), fakeGo);
  await chmod(join(goDir, 'go'), 0o755);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const envFor = (cache: string, extra: Record<string, string> = {}) => ({
  PATH: `${goDir}:/usr/bin:/bin`,
  SWITCHBOARD_CACHE: join(scratch, cache),
  FAKE_GO_CALLS: calls,
  ...extra,
});
const goCalls = async () => (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter(Boolean);
const versionDir = (cache: string) => join(scratch, cache, 'envtest', KUBERNETES_VERSION);

it('builds both binaries from a copy of the Go sources, installs them, then reuses them', async () => {
  await rm(calls, { force: true });
  const env = envFor('cache-a');
  const built = await ensureControlPlaneBinaries({ env });
  expect(built).toEqual({
    kubeApiserver: join(versionDir('cache-a'), 'bin', 'kube-apiserver'),
    etcd: join(versionDir('cache-a'), 'bin', 'etcd'),
    source: 'build',
  });
  const invocations = await goCalls();
  expect(invocations).toHaveLength(2);
  // Built in a staging copy, never in the repository's go/ directory.
  expect(invocations.every((line) => line.startsWith(join(versionDir('cache-a'), '.build-')))).toBe(true);
  expect(invocations[1]).toContain('-trimpath');
  expect(invocations[1]).toContain(`k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION}`);
  expect((await readdir(versionDir('cache-a'))).sort()).toEqual(['bin', 'control-plane.json']);

  const again = await ensureControlPlaneBinaries({ env });
  expect(again.source).toBe('cache');
  expect(await goCalls()).toHaveLength(2); // no new build
});

it('builds once when several callers find the cache empty at the same time', async () => {
  await rm(calls, { force: true });
  const env = envFor('cache-b');
  const results = await Promise.all([1, 2, 3].map(() => ensureControlPlaneBinaries({ env })));
  expect(results.map((r) => r.source).sort()).toEqual(['build', 'cache', 'cache']);
  expect(await goCalls()).toHaveLength(2);
});

it('caches nothing when the build fails, and says why', async () => {
  await rm(calls, { force: true });
  const error = await ensureControlPlaneBinaries({ env: envFor('cache-c', { FAKE_GO_FAIL: '1' }) }).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EnvtestError);
  expect((error as EnvtestError).code).toBe('BUILD_FAILED');
  expect((error as EnvtestError).output).toContain('main.go:3:1: syntax error');
  // No binaries, no stamp, no staging directory, no lock: the next run starts clean.
  expect(await readdir(versionDir('cache-c'))).toEqual([]);
});

it('rebuilds when the stamp does not match the sources', async () => {
  await rm(calls, { force: true });
  const env = envFor('cache-d');
  await ensureControlPlaneBinaries({ env });
  const stamp = join(versionDir('cache-d'), 'control-plane.json');
  await writeFile(stamp, JSON.stringify({ fingerprint: 'from-older-sources' }));
  expect((await ensureControlPlaneBinaries({ env })).source).toBe('build');
  expect(await goCalls()).toHaveLength(4);
});

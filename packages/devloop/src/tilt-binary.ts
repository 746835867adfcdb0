import {
  type EnsureGoBuildOptions,
  type EnvtestEnv,
  ensureGoBinary,
  type GoBinary,
  type GoBinaryBuild,
  goBinaryPaths,
  goBuildFingerprint,
  withoutGoSumLines,
} from '@switchboard/envtest';

/**
 * Tilt, built here from its Go module (no registry this machine reaches ships a Tilt binary).
 * Found, in this order:
 *
 * 1. `SWITCHBOARD_TILT_BINARY`: any Tilt executable (a release download on a laptop). A variable
 *    that names no executable is an error, not a silent build.
 * 2. The cache: `<cache>/tilt/<version>/bin/tilt`, valid while `tilt.json` beside it matches the
 *    recipe below.
 * 3. A build by the tools' one Go builder (packages/envtest/src/go-build.ts), declared below:
 *    the module's tree copied out of the module cache so it builds as the main module (its
 *    replace directives apply), `go build ./cmd/tilt` with cgo (the Tiltfile language server's
 *    tree-sitter is C), go.sum's {@link GO_SUM_OVERRIDES} lines dropped, and a placeholder page
 *    for the web UI (its assets are not in the module).
 *
 * Why not `go install github.com/tilt-dev/tilt/cmd/tilt@v<version>`: the Go module proxy serves
 * the exact version but refuses the module's version list (403), which `go install` reads to
 * check for deprecation, so it fails before building.
 */

/** The Tilt release built here; the newest the Go module proxy serves (v0.37.5 is served too). */
export const TILT_VERSION = '0.37.6';

const MODULE = 'github.com/tilt-dev/tilt';

/**
 * go.sum lines of the Tilt module that disagree with the Go checksum database, removed before the
 * build so `go` verifies those modules against the checksum database (sum.golang.org, whose
 * answers are signed) instead of failing with "SECURITY ERROR ... checksum mismatch". For
 * v0.37.6: Tilt's go.sum records github.com/docker/buildx v0.32.1 as
 * h1:Zlau3oApu/xjwgRsOc4YLcnmpHUsCXOH1GR6KlOhTME=, while the proxy serves, and the checksum
 * database records, h1:ecen0VNo7UINEv+Wx7xDPlTH5nQ1EaxzFOoslYIISuk=. Only these exact lines are
 * removed; any other mismatch still fails the build.
 */
export const GO_SUM_OVERRIDES: readonly string[] = [
  'github.com/docker/buildx v0.32.1 h1:Zlau3oApu/xjwgRsOc4YLcnmpHUsCXOH1GR6KlOhTME=',
];

const LDFLAGS = `-s -w -X main.version=${TILT_VERSION}`;

const PLACEHOLDER_PAGE =
  '<!doctype html><title>Tilt</title><p>The web UI is not part of this build of Tilt (see packages/devloop/README.md): use its terminal UI (<code>tilt up --legacy</code>) or <code>tilt get uiresources</code>.</p>\n';

/** The environment variables this module reads; passed in so tests can supply their own. */
export type TiltBinaryEnv = EnvtestEnv;

/** Where the Tilt binary of this run comes from. */
export type TiltBinary = GoBinary;

/** Options for {@link ensureTiltBinary}. */
export type EnsureTiltBinaryOptions = EnsureGoBuildOptions;

const TILT: GoBinaryBuild = {
  name: 'tilt',
  title: 'Tilt',
  version: TILT_VERSION,
  // Bump when the recipe changes, so caches built the old way are rebuilt.
  recipe: 2,
  identity: `${MODULE}@v${TILT_VERSION}\n${LDFLAGS}\n${GO_SUM_OVERRIDES.join('\n')}\n${PLACEHOLDER_PAGE}`,
  binary: {
    note: `building Tilt ${TILT_VERSION} (go build with cgo; modules from the Go module proxy; many minutes cold)`,
    from: { module: `${MODULE}@v${TILT_VERSION}` },
    packages: ['./cmd/tilt'],
    ldflags: LDFLAGS,
    // The Tiltfile language server links tree-sitter, which is C.
    cgo: true,
    dropGoSumLines: GO_SUM_OVERRIDES,
    // The web UI's built assets are not in the module (upstream builds them with Node and
    // embeds them at release time); without pkg/assets/build/index.html Tilt refuses to start
    // ("running in prod mode, but JS/CSS files are not available"). A one-page placeholder
    // stands in, as packages/cluster does for Traefik's dashboard: Tilt's terminal UI and
    // `tilt ci` need no web UI.
    files: { 'pkg/assets/build/index.html': PLACEHOLDER_PAGE },
    verify: { args: ['version'], expect: `v${TILT_VERSION}` },
  },
  envVar: 'SWITCHBOARD_TILT_BINARY',
  makeTarget: 'tilt-binary',
  goVersion: '1.26',
};

/** Paths of the cached build of {@link TILT_VERSION}. */
export function tiltCachePaths(env: TiltBinaryEnv) {
  const paths = goBinaryPaths(TILT, env);
  return { ...paths, tilt: paths.binary };
}

/** What decides the build's output: the version, the flags, the go.sum overrides, the recipe. */
export function tiltFingerprint(): Promise<string> {
  return goBuildFingerprint(TILT);
}

/**
 * Returns a Tilt binary: SWITCHBOARD_TILT_BINARY, else the cache, else built from the Go module
 * into the cache (once per version and machine; concurrent callers wait for one build).
 */
export function ensureTiltBinary(options: EnsureTiltBinaryOptions = {}): Promise<TiltBinary> {
  return ensureGoBinary(TILT, options);
}

/** go.sum without the {@link GO_SUM_OVERRIDES} lines, as the build drops them. */
export function withoutOverriddenSums(goSum: string): string {
  return withoutGoSumLines(goSum, new Set(GO_SUM_OVERRIDES));
}

import { fileURLToPath } from 'node:url';
import {
  type EnsureGoBuildOptions,
  type EnvtestEnv,
  ensureGoBinary,
  type GoBinary,
  type GoBinaryBuild,
  goBinaryPaths,
} from '@switchboard/envtest';

/**
 * A real Jaeger (v2, built on the OpenTelemetry Collector) for tests of tracing: an OTLP/HTTP
 * receiver and Jaeger's query API over in-memory storage. Built by the tools' one Go builder
 * (packages/envtest/src/go-build.ts) from `go/jaeger` (a module whose go.mod has
 * `tool github.com/jaegertracing/jaeger/cmd/jaeger` at `JAEGER_VERSION`, go.sum committed), cached
 * under `<cache>/jaeger/<version>/bin/jaeger`, or taken from `SWITCHBOARD_JAEGER_BINARY`.
 */

/** The Jaeger release the tests run; `go/jaeger/go.mod` requires the same (checked by a test). */
export const JAEGER_VERSION = '1.75.0';

const LDFLAGS = `-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v${JAEGER_VERSION}`;

const JAEGER: GoBinaryBuild = {
  name: 'jaeger',
  title: 'Jaeger',
  version: JAEGER_VERSION,
  recipe: 1,
  // The package is not part of it: go.mod's tool line names it.
  identity: `${JAEGER_VERSION}\n${LDFLAGS}\n`,
  sources: fileURLToPath(new URL('../go/jaeger/', import.meta.url)),
  binary: {
    note: `building Jaeger ${JAEGER_VERSION} (go build; modules come from the Go module proxy; minutes when cold)`,
    packages: ['github.com/jaegertracing/jaeger/cmd/jaeger'],
    ldflags: LDFLAGS,
    verify: { args: ['version'], expect: `"gitVersion":"v${JAEGER_VERSION}"` },
  },
  envVar: 'SWITCHBOARD_JAEGER_BINARY',
  makeTarget: 'jaeger-binary',
  goVersion: '1.25',
};

/** Paths of the cached build for `JAEGER_VERSION`. */
export function jaegerCachePaths(env: EnvtestEnv) {
  return goBinaryPaths(JAEGER, env);
}

/** Returns a Jaeger binary: from SWITCHBOARD_JAEGER_BINARY, else the cache, else built into it. */
export function ensureJaegerBinary(options: EnsureGoBuildOptions = {}): Promise<GoBinary> {
  return ensureGoBinary(JAEGER, options);
}

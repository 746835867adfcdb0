import { fileURLToPath } from 'node:url';
import {
  type EnsureGoBinaryOptions,
  ensureGoBinary,
  type GoBinary,
  type GoBinarySpec,
  goBinaryCachePaths,
} from './go-binary.ts';

/**
 * A real Jaeger (v2, built on the OpenTelemetry Collector) for tests of tracing: an OTLP/HTTP
 * receiver and Jaeger's query API over in-memory storage. Built by go-binary.ts from
 * `go/jaeger` (a module whose go.mod has `tool github.com/jaegertracing/jaeger/cmd/jaeger` at
 * `JAEGER_VERSION`, go.sum committed), cached under `<cache>/jaeger/<version>/bin/jaeger`, or
 * taken from `SWITCHBOARD_JAEGER_BINARY`.
 */

/** The Jaeger release the tests run; `go/jaeger/go.mod` requires the same (checked by a test). */
export const JAEGER_VERSION = '1.75.0';

const JAEGER: GoBinarySpec = {
  name: 'jaeger',
  title: 'Jaeger',
  version: JAEGER_VERSION,
  sources: fileURLToPath(new URL('../go/jaeger/', import.meta.url)),
  target: 'github.com/jaegertracing/jaeger/cmd/jaeger',
  ldflags: `-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v${JAEGER_VERSION}`,
  recipe: 1,
  envVar: 'SWITCHBOARD_JAEGER_BINARY',
  makeTarget: 'jaeger-binary',
  verify: async (path, run) => {
    const version = await run(path, ['version']);
    if (!version.output.includes(`"gitVersion":"v${JAEGER_VERSION}"`)) {
      throw new Error(
        `the built jaeger printed ${JSON.stringify(version.output.trim())}, expected v${JAEGER_VERSION}`,
      );
    }
  },
};

/** Paths of the cached build for `JAEGER_VERSION`. */
export function jaegerCachePaths(env: Readonly<Record<string, string | undefined>>) {
  return goBinaryCachePaths(JAEGER, env);
}

/** Returns a Jaeger binary: from SWITCHBOARD_JAEGER_BINARY, else the cache, else built into it. */
export function ensureJaegerBinary(options: EnsureGoBinaryOptions = {}): Promise<GoBinary> {
  return ensureGoBinary(JAEGER, options);
}

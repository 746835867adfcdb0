// `make jaeger-binary`: builds (or reuses) the Jaeger binary the tracing tests send spans to and
// prints where it is and how long it took. The test run's global setup builds it too; this warms
// the cache first, so the build does not compete with running tests for the CPU.
import { ensureJaegerBinary, JAEGER_VERSION } from './jaeger-binary.ts';

const started = Date.now();
const binary = await ensureJaegerBinary({ log: (line) => process.stderr.write(`[jaeger] ${line}\n`) });
process.stdout.write(
  `Jaeger ${JAEGER_VERSION}: ${binary.path} (${binary.source}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
);

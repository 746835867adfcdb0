// `make vault-binary`: builds (or reuses) the Vault server binary the tests run against and
// prints where it is and how long it took. Tests build it on demand too; this warms the cache
// before a test run, so the build does not compete with running tests for the CPU.
import { ensureVaultBinary, VAULT_VERSION } from './vault-binary.ts';

const started = Date.now();
const binary = await ensureVaultBinary({ log: (line) => process.stderr.write(`[vault] ${line}\n`) });
process.stdout.write(
  `Vault ${VAULT_VERSION}: ${binary.path} (${binary.source}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
);

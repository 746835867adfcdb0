import { fileURLToPath } from 'node:url';
import {
  type EnsureGoBinaryOptions,
  ensureGoBinary,
  type GoBinary,
  type GoBinaryEnv,
  type GoBinarySpec,
  goBinaryCachePaths,
} from './go-binary.ts';

/**
 * A real Vault server binary for tests, built from HashiCorp's Go module by go-binary.ts:
 * `SWITCHBOARD_VAULT_BINARY` (any executable speaking Vault's API: a release download, OpenBao's
 * `bao`), else `<cache>/vault/<version>/bin/vault`, else a `go build` of `go/vault` (which
 * requires github.com/hashicorp/vault at `VAULT_VERSION`, go.sum committed).
 */

/** The Vault release the tests run; `go/vault/go.mod` requires the same (checked by a test). */
export const VAULT_VERSION = '1.21.0';

/** The environment variables this module reads; passed in so tests can supply their own. */
export type VaultBinaryEnv = GoBinaryEnv;

/** Where the Vault binary of this run comes from. */
export type VaultBinary = GoBinary;

/** Options for {@link ensureVaultBinary}. */
export type EnsureVaultBinaryOptions = EnsureGoBinaryOptions;

const VAULT: GoBinarySpec = {
  name: 'vault',
  title: 'Vault',
  version: VAULT_VERSION,
  sources: fileURLToPath(new URL('../go/vault/', import.meta.url)),
  target: '.',
  ldflags: '-s -w',
  recipe: 1,
  envVar: 'SWITCHBOARD_VAULT_BINARY',
  makeTarget: 'vault-binary',
  verify: async (path, run) => {
    const version = await run(path, ['version']);
    if (!version.output.includes(`Vault v${VAULT_VERSION}`)) {
      throw new Error(
        `the built vault printed ${JSON.stringify(version.output.trim())}, expected Vault v${VAULT_VERSION}`,
      );
    }
  },
};

/** Paths of the cached build for `VAULT_VERSION`. */
export function vaultCachePaths(env: VaultBinaryEnv) {
  const paths = goBinaryCachePaths(VAULT, env);
  return { dir: paths.dir, bin: paths.bin, vault: paths.binary, stamp: paths.stamp, lock: paths.lock };
}

/**
 * Returns a Vault server binary: from SWITCHBOARD_VAULT_BINARY, else the cache, else built from
 * the Go module into the cache (once per version and machine; concurrent callers wait for one
 * build). Measured cold build times are in packages/testing/README.md.
 */
export function ensureVaultBinary(options: EnsureVaultBinaryOptions = {}): Promise<VaultBinary> {
  return ensureGoBinary(VAULT, options);
}

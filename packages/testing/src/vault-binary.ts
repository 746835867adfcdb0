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
 * A real Vault server binary for tests, built from HashiCorp's Go module by the tools' one Go
 * builder (packages/envtest/src/go-build.ts): `SWITCHBOARD_VAULT_BINARY` (any executable speaking
 * Vault's API: a release download, OpenBao's `bao`), else `<cache>/vault/<version>/bin/vault`,
 * else a `go build` of `go/vault` (which requires github.com/hashicorp/vault at `VAULT_VERSION`,
 * go.sum committed).
 */

/** The Vault release the tests run; `go/vault/go.mod` requires the same (checked by a test). */
export const VAULT_VERSION = '1.21.0';

/** The environment variables this module reads; passed in so tests can supply their own. */
export type VaultBinaryEnv = EnvtestEnv;

/** Where the Vault binary of this run comes from. */
export type VaultBinary = GoBinary;

/** Options for {@link ensureVaultBinary}. */
export type EnsureVaultBinaryOptions = EnsureGoBuildOptions;

const VAULT: GoBinaryBuild = {
  name: 'vault',
  title: 'Vault',
  version: VAULT_VERSION,
  recipe: 1,
  identity: `${VAULT_VERSION}\n-s -w\n`,
  sources: fileURLToPath(new URL('../go/vault/', import.meta.url)),
  binary: {
    note: `building Vault ${VAULT_VERSION} (go build; modules come from the Go module proxy; minutes when cold)`,
    verify: { args: ['version'], expect: `Vault v${VAULT_VERSION}` },
  },
  envVar: 'SWITCHBOARD_VAULT_BINARY',
  makeTarget: 'vault-binary',
  goVersion: '1.25',
};

/** Paths of the cached build for `VAULT_VERSION`. */
export function vaultCachePaths(env: VaultBinaryEnv) {
  const paths = goBinaryPaths(VAULT, env);
  return { ...paths, vault: paths.binary };
}

/**
 * Returns a Vault server binary: from SWITCHBOARD_VAULT_BINARY, else the cache, else built from
 * the Go module into the cache (once per version and machine; concurrent callers wait for one
 * build). Measured cold build times are in packages/testing/README.md.
 */
export function ensureVaultBinary(options: EnsureVaultBinaryOptions = {}): Promise<VaultBinary> {
  return ensureGoBinary(VAULT, options);
}

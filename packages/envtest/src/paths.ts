import { homedir } from 'node:os';
import { join } from 'node:path';
import { KUBERNETES_VERSION } from './versions.ts';

/** The environment variables this package reads; passed in so tests can supply their own. */
export type EnvtestEnv = Readonly<Record<string, string | undefined>>;

/**
 * The machine-wide cache root, shared with scripts/toolchain.sh (Node lives there too):
 * $SWITCHBOARD_CACHE, else $XDG_CACHE_HOME/switchboard, else ~/.cache/switchboard.
 */
export function cacheRoot(env: EnvtestEnv): string {
  if (env.SWITCHBOARD_CACHE) return env.SWITCHBOARD_CACHE;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'switchboard');
}

/** Where one Kubernetes version's binaries live: <cache>/envtest/<version>/bin. */
export function versionCacheDir(env: EnvtestEnv, version: string = KUBERNETES_VERSION): string {
  return join(cacheRoot(env), 'envtest', version);
}

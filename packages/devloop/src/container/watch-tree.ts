// Watches a folder tree with one inotify watch per folder (fs.watch without `recursive`, which
// on Linux walks the tree and polls every file with fs.watchFile: late, repeated events and a
// stat per file every few seconds). Folders created later are watched as they appear; folders
// named in `skip` (node_modules) are never entered. Self-contained (node: imports only): the dev
// images carry it beside supervisor.ts.
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Calls `onChange` with the path (relative to `root`) of every entry created, changed, renamed or
 * removed under `root`. Returns a function that stops watching.
 */
export function watchTree(
  root: string,
  onChange: (path: string) => void,
  skip: readonly string[] = ['node_modules', '.git'],
): () => void {
  const watchers = new Map<string, FSWatcher>();
  const add = (dir: string) => {
    if (watchers.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => {
        if (!name) return;
        const path = join(dir, name.toString());
        try {
          if (statSync(path).isDirectory() && !skip.includes(name.toString())) add(path);
        } catch {
          // Removed again, or a removal: nothing to watch.
        }
        onChange(relative(root, path));
      });
    } catch {
      return; // removed before it could be watched
    }
    watcher.on('error', () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (skip.includes(entry)) continue;
      const path = join(dir, entry);
      try {
        if (statSync(path).isDirectory()) add(path);
      } catch {
        // Gone meanwhile.
      }
    }
  };
  add(root);
  return () => {
    for (const watcher of watchers.values()) watcher.close();
    watchers.clear();
  };
}

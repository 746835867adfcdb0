import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a running `make demo` says how to reach it (read by `make demo-customer`). */
export const DEMO_STATE_FILE = join(
  fileURLToPath(new URL('../../../', import.meta.url)),
  '.demo',
  'stack.json',
);

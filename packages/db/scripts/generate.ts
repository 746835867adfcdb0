// Regenerates the Prisma client in src/generated/prisma from prisma/schema.prisma.
// `npm run generate -w @switchboard/db` (and so `make generate`) runs this; CI then
// checks with git diff that the committed client matches.
//
// Offline: `prisma generate` insists on a schema engine binary being present even
// though the prisma-client generator never runs it, and the real one would be
// downloaded. Any existing executable satisfies the check, so we point it at node.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const outputDir = fileURLToPath(new URL('../src/generated/prisma', import.meta.url));
const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');

// Start from an empty directory so a renamed or removed model leaves no stale file behind.
rmSync(outputDir, { recursive: true, force: true });

const result = spawnSync(process.execPath, [prismaCli, 'generate', '--schema', 'prisma/schema.prisma'], {
  cwd: packageDir,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
    // No update check or telemetry: there is no network, and a hung request would stall the build.
    CHECKPOINT_DISABLE: '1',
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  },
});
if (result.error) throw result.error;
process.exit(result.status ?? 1);

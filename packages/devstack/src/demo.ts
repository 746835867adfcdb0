// `make demo`: the whole platform on this machine, no cluster, no internet. Starts Postgres and
// Redis of its own, a migrated database for the tenant `demo` with an owner to log in as, the API
// serving the inbox, a worker, and Meta's Cloud API played by the emulator as the tenant's
// WhatsApp number. Prints where to go; Ctrl-C stops everything and removes what it created.
//
//   node packages/devstack/src/demo.ts [--port 8080] [--verbose] [--secrets env|vault|aws]
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEMO_STATE_FILE } from './demo-state.ts';
import { STACK_SECRET_STORES } from './secret-stores.ts';
import { DEFAULT_INBOX_DIR, type Stack, startStack } from './stack.ts';

const say = (text: string): void => void process.stdout.write(`${text}\n`);

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.DEMO_PORT ?? '8080' },
    verbose: { type: 'boolean', default: false },
    // Where the tenant's Cloud API credentials live: worker variables, a Vault dev server, or moto's Secrets Manager.
    secrets: { type: 'string', default: 'env' },
  },
});
const secrets = STACK_SECRET_STORES.find((kind) => kind === values.secrets);
if (secrets === undefined) {
  console.error(
    `--secrets: expected one of ${STACK_SECRET_STORES.join(', ')}, got ${JSON.stringify(values.secrets)}`,
  );
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  console.error(`--port: expected a port number (1-65535), got ${JSON.stringify(values.port)}`);
  process.exit(2);
}

const ADMIN = { email: 'admin@demo.local', password: 'switchboard-demo' };
const logDir = join(ROOT, '.demo', 'logs');
await rm(logDir, { recursive: true, force: true });
await mkdir(logDir, { recursive: true });
const logs = new Map<string, string[]>();

say('Starting Switchboard: Postgres, Redis, migrations, API + inbox, worker, Cloud API emulator...');
let stack: Stack;
try {
  stack = await startStack({
    tenants: [
      { slug: 'demo', displayName: 'Demo Inc.', admin: ADMIN, cloudApi: { verifiedName: 'Demo Inc.' } },
    ],
    apiPorts: [port],
    secrets,
    onLog: (source, line) => {
      if (values.verbose) say(`[${source}] ${line}`);
      const lines = logs.get(source) ?? [];
      lines.push(line);
      logs.set(source, lines);
    },
  });
} catch (error) {
  console.error(`\nThe demo did not start: ${(error as Error).message}`);
  if ((error as Error).message.includes('EADDRINUSE'))
    console.error(`Port ${port} is taken: run \`make demo DEMO_PORT=<another port>\`.`);
  process.exit(1);
}

const tenant = stack.tenants[0]!;
const cloudApi = tenant.cloudApi!;
await writeFile(
  DEMO_STATE_FILE,
  JSON.stringify(
    {
      apiUrl: tenant.apiUrl,
      emulatorUrl: cloudApi.emulator.url,
      businessNumber: cloudApi.displayPhoneNumber,
    },
    null,
    2,
  ),
);
const flushLogs = setInterval(() => void writeLogs(), 2_000);
async function writeLogs(): Promise<void> {
  for (const [source, lines] of logs) await writeFile(join(logDir, `${source}.log`), `${lines.join('\n')}\n`);
}

const inbox = tenant.apiUrl.replace('127.0.0.1', 'localhost');
const inboxBuilt = existsSync(join(DEFAULT_INBOX_DIR, 'index.html'));
say(`
Switchboard is running.

  Inbox      ${inboxBuilt ? `${inbox}/` : '(not built: run `npm run build -w @switchboard/inbox`, then restart)'}
  Log in as  ${ADMIN.email} / ${ADMIN.password}
  API docs   ${inbox}/docs
  WhatsApp   +${cloudApi.displayPhoneNumber} (the Cloud API emulator at ${cloudApi.emulator.url})

Play the customer in another terminal:

  make demo-customer                      chat as +1 555 555 0123
  make demo-customer FROM=15555550199     chat as another number

Type a message there, answer it in the inbox, and the answer appears there once.
Logs: .demo/logs/. Ctrl-C stops everything.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say('\nStopping...');
    clearInterval(flushLogs);
    void writeLogs()
      .then(() => stack.stop())
      .then(() => rm(DEMO_STATE_FILE, { force: true }))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(`stopping failed: ${(error as Error).message}`);
          process.exit(1);
        },
      );
  });
}

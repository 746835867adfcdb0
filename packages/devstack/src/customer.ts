// `make demo-customer`: be the customer of the running demo. Every line typed is a WhatsApp
// message to the demo's business number (through the Cloud API emulator, so it reaches the inbox
// as Meta's signed webhook would); what the agents answer is printed as it arrives, once, and
// marked read (the inbox shows the blue ticks).
//
//   node packages/devstack/src/customer.ts [--from 15555550123] [--name Ana] [--emulator URL]
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEMO_STATE_FILE } from './demo-state.ts';

const say = (text: string): void => void process.stdout.write(`${text}\n`);

const { values } = parseArgs({
  options: {
    from: { type: 'string', default: process.env.FROM || '15555550123' },
    name: { type: 'string', default: process.env.NAME || 'Demo Customer' },
    emulator: { type: 'string' },
  },
});
const from = values.from.replace(/^\+/, '');
if (!/^\d{7,15}$/.test(from)) {
  console.error(
    `--from: expected a phone number (7 to 15 digits, optional +), got ${JSON.stringify(values.from)}`,
  );
  process.exit(2);
}

const stateSchema = z.object({ emulatorUrl: z.url(), businessNumber: z.string() });
async function emulatorUrl(): Promise<{ url: string; business: string }> {
  if (values.emulator) return { url: values.emulator, business: '' };
  try {
    const state = stateSchema.parse(JSON.parse(await readFile(DEMO_STATE_FILE, 'utf8')));
    return { url: state.emulatorUrl, business: state.businessNumber };
  } catch {
    console.error(`No running demo found (${DEMO_STATE_FILE}): start one with \`make demo\` first.`);
    process.exit(1);
  }
}
const { url, business } = await emulatorUrl();

const sentSchema = z.object({
  messages: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      request: z.record(z.string(), z.unknown()),
      statuses: z.array(z.string()),
    }),
  ),
});

/** What the business message says, as a person would read it. */
function render(message: z.infer<typeof sentSchema>['messages'][number]): string {
  const body = message.request[message.type] as Record<string, unknown> | undefined;
  if (message.type === 'text') return String(body?.body ?? '');
  if (message.type === 'template') return `[template ${String(body?.name ?? '')}]`;
  const caption = body?.caption ? ` ${String(body.caption)}` : '';
  return `[${message.type}]${caption}`;
}

const seen = new Set<string>();
async function poll(print: boolean): Promise<void> {
  const response = await fetch(`${url}/_emulator/sent?to=${from}`);
  if (!response.ok) throw new Error(`the emulator answered ${response.status}`);
  for (const message of sentSchema.parse(await response.json()).messages) {
    if (seen.has(message.id)) continue;
    seen.add(message.id);
    if (!print) continue;
    process.stdout.write(`\r\x1b[K\x1b[36magent>\x1b[0m ${render(message)}\n\x1b[33myou>\x1b[0m `);
    if (!message.statuses.includes('read'))
      await fetch(`${url}/_emulator/messages/${encodeURIComponent(message.id)}/read`, {
        method: 'POST',
      }).catch(() => undefined);
  }
}

await poll(false);
say(
  `You are +${from} (${values.name}), writing to ${business ? `+${business}` : url}. Ctrl-D or Ctrl-C to leave.`,
);
const timer = setInterval(
  () => void poll(true).catch((error: Error) => console.error(`\n${error.message}`)),
  500,
);
const rl = createInterface({ input: process.stdin, output: process.stdout });
rl.setPrompt('\x1b[33myou>\x1b[0m ');
rl.prompt();
rl.on('line', (line) => {
  const text = line.trim();
  if (!text) return rl.prompt();
  void fetch(`${url}/_emulator/customer/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from, name: values.name, text }),
  })
    .then(async (response) => {
      if (!response.ok) console.error(`not sent: ${response.status} ${await response.text()}`);
    })
    .catch((error: Error) => console.error(`not sent: ${error.message}`))
    .finally(() => rl.prompt());
});
rl.on('close', () => {
  clearInterval(timer);
  say('');
  process.exit(0);
});

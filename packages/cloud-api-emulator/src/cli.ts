#!/usr/bin/env node
/**
 * The emulator's command line: `serve` starts one (printing `{"url": ...}` as its first stdout
 * line), the other commands play the customer against a running one through its control API.
 *
 *   node src/cli.ts serve --token T --app-secret S [--webhook-url U] [--port 0] [--manual-statuses]
 *                         [--host 0.0.0.0] [--public-url http://cloud-api-emulator.meta.svc]
 *   node src/cli.ts send-text --emulator URL --from 5511999990000 --text "Olá" [--reply-to WAMID]
 *   node src/cli.ts send-media --emulator URL --from N --type image --file photo.jpg --mime image/jpeg
 *   node src/cli.ts sent --emulator URL [--to N]
 *   node src/cli.ts read --emulator URL --id WAMID
 *   node src/cli.ts fail --emulator URL --code 130429 [--count 1]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createCloudApiEmulator } from './emulator.ts';

const USAGE = 'usage: cli.ts serve|send-text|send-media|sent|read|fail [options] (see the file header)';

async function control(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(new URL(path, base), {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      emulator: { type: 'string' },
      host: { type: 'string' },
      'public-url': { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string' },
      'app-secret': { type: 'string' },
      'webhook-url': { type: 'string' },
      'verify-token': { type: 'string' },
      'phone-number-id': { type: 'string' },
      'display-phone-number': { type: 'string' },
      'manual-statuses': { type: 'boolean' },
      'retry-attempts': { type: 'string' },
      'retry-base-ms': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      name: { type: 'string' },
      text: { type: 'string' },
      'reply-to': { type: 'string' },
      type: { type: 'string' },
      file: { type: 'string' },
      mime: { type: 'string' },
      caption: { type: 'string' },
      id: { type: 'string' },
      code: { type: 'string' },
      count: { type: 'string' },
    },
  });
  const need = (name: keyof typeof values): string => {
    const value = values[name];
    if (typeof value !== 'string' || value === '') throw new Error(`--${name} is required for ${command}`);
    return value;
  };
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

  switch (command) {
    case 'serve': {
      const emulator = await createCloudApiEmulator({
        accessToken: need('token'),
        appSecret: need('app-secret'),
        ...(values.host ? { host: values.host } : {}),
        ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
        port: Number(values.port ?? 0),
        ...(values['webhook-url'] ? { webhookUrl: values['webhook-url'] } : {}),
        ...(values['verify-token'] ? { verifyToken: values['verify-token'] } : {}),
        ...(values['phone-number-id']
          ? {
              phoneNumbers: [
                {
                  id: values['phone-number-id'],
                  displayPhoneNumber: values['display-phone-number'] ?? '15550000001',
                },
              ],
            }
          : {}),
        statuses: values['manual-statuses'] ? { mode: 'manual' } : { mode: 'auto' },
        ...(values['retry-attempts']
          ? {
              retry: {
                attempts: Number(values['retry-attempts']),
                baseDelayMs: Number(values['retry-base-ms'] ?? 200),
                maxDelayMs: 5_000,
              },
            }
          : {}),
      });
      print({ url: emulator.url });
      const stop = () => {
        void emulator.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      return;
    }
    case 'send-text':
      print(
        await control(need('emulator'), 'POST', '/_emulator/customer/messages', {
          from: need('from'),
          type: 'text',
          text: need('text'),
          ...(values.to ? { to: values.to } : {}),
          ...(values.name ? { name: values.name } : {}),
          ...(values.id ? { id: values.id } : {}),
          ...(values['reply-to'] ? { replyTo: values['reply-to'] } : {}),
        }),
      );
      return;
    case 'send-media': {
      const bytes = await readFile(need('file'));
      print(
        await control(need('emulator'), 'POST', '/_emulator/customer/messages', {
          from: need('from'),
          type: need('type'),
          media: {
            mimeType: need('mime'),
            dataBase64: bytes.toString('base64'),
            ...(values.caption ? { caption: values.caption } : {}),
            filename: need('file').split('/').at(-1),
          },
          ...(values.to ? { to: values.to } : {}),
        }),
      );
      return;
    }
    case 'sent':
      print(
        await control(
          need('emulator'),
          'GET',
          `/_emulator/sent${values.to ? `?to=${encodeURIComponent(values.to)}` : ''}`,
        ),
      );
      return;
    case 'read':
      print(
        await control(
          need('emulator'),
          'POST',
          `/_emulator/messages/${encodeURIComponent(need('id'))}/read`,
          {},
        ),
      );
      return;
    case 'fail':
      print(
        await control(need('emulator'), 'POST', '/_emulator/failures', {
          code: Number(need('code')),
          count: Number(values.count ?? 1),
        }),
      );
      return;
    default:
      throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

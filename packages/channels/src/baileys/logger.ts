import type { SocketConfig } from '@whiskeysockets/baileys';

/** The logger shape Baileys takes (a pino logger fits). */
export type BaileysLogger = SocketConfig['logger'];

/**
 * Logs nothing. The default, because Baileys' own debug and trace lines carry message content
 * and key material; pass a pino child at `warn` or above to see what matters.
 */
export const silentLogger: BaileysLogger = {
  level: 'silent',
  child: () => silentLogger,
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** An error's first line, at most 200 characters: what a log line says of it (no stack, no payload). */
export function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split('\n')[0]!.slice(0, 200);
}

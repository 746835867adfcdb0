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

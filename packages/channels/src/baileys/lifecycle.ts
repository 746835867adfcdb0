import { DisconnectReason } from '@whiskeysockets/baileys';
import type { StateCause } from '../channel.ts';

/**
 * What to do when a Baileys socket closes. Baileys never reconnects by itself: each
 * connection is a new socket, so this decision is the whole reconnect policy.
 *
 * - 515 restartRequired: WhatsApp's normal step right after pairing (and sometimes after a
 *   stream error): open a new socket at once.
 * - 401 loggedOut / 403 forbidden: the device is unlinked or the account refused: the auth state
 *   is worthless, wipe it, and wait for a new pairing.
 * - 440 connectionReplaced (`conflict: replaced`): another socket holds the session. Ownership
 *   moved; reconnecting would kick the new owner, who would kick us back.
 * - 408 while pairing after codes were shown: the QR refs ran out. Start a new pairing round
 *   (fresh codes) until the allowed rounds are used up.
 * - Everything else: reconnect with exponential backoff and jitter.
 */

/** Facts about the closed socket and the channel. */
export interface CloseContext {
  /** Boom status code of the close error; undefined when we ended the socket ourselves. */
  code: number | undefined;
  /** disconnect() or logout() asked for this close. */
  stopRequested: boolean;
  /** logout() asked for this close. */
  logoutRequested: boolean;
  /** A write or send met a raised fence. */
  fenced: boolean;
  /** The creds are linked to an account. */
  paired: boolean;
  /** This socket showed at least one QR code. */
  codesShown: boolean;
  /** Pairing rounds already used, this one included. */
  pairingRound: number;
  maxPairingRounds: number;
}

/** The decision. */
export type CloseDecision =
  | { action: 'stop'; cause: StateCause }
  | { action: 'wipe'; cause: 'logged-out' | 'logout' | 'forbidden' }
  | { action: 'reconnect-now'; cause: 'restart-required' | 'pairing-renewed' }
  | { action: 'pairing-expired'; cause: 'pairing-expired' }
  | { action: 'backoff'; cause: StateCause };

/** The stable cause name of a Baileys DisconnectReason code. */
export function causeOfCode(code: number | undefined): StateCause {
  switch (code) {
    case DisconnectReason.restartRequired:
      return 'restart-required';
    case DisconnectReason.loggedOut:
      return 'logged-out';
    case DisconnectReason.forbidden:
      return 'forbidden';
    case DisconnectReason.connectionReplaced:
      return 'connection-replaced';
    case DisconnectReason.connectionClosed:
      return 'connection-closed';
    case DisconnectReason.connectionLost:
      return 'connection-lost';
    case DisconnectReason.badSession:
      return 'bad-session';
    case DisconnectReason.multideviceMismatch:
      return 'multidevice-mismatch';
    case DisconnectReason.unavailableService:
      return 'service-unavailable';
    case undefined:
      return 'socket-error';
    default:
      return 'unknown';
  }
}

/** Decides what follows a close. */
export function decideOnClose(context: CloseContext): CloseDecision {
  if (context.fenced) return { action: 'stop', cause: 'stale-epoch' };
  const { code } = context;
  if (code === DisconnectReason.loggedOut) {
    return { action: 'wipe', cause: context.logoutRequested ? 'logout' : 'logged-out' };
  }
  if (code === DisconnectReason.forbidden) return { action: 'wipe', cause: 'forbidden' };
  if (context.logoutRequested) return { action: 'wipe', cause: 'logout' };
  if (context.stopRequested) return { action: 'stop', cause: 'stopped' };
  if (code === DisconnectReason.connectionReplaced) return { action: 'stop', cause: 'connection-replaced' };
  if (code === DisconnectReason.restartRequired)
    return { action: 'reconnect-now', cause: 'restart-required' };
  if (code === DisconnectReason.timedOut && !context.paired && context.codesShown) {
    return context.pairingRound < context.maxPairingRounds
      ? { action: 'reconnect-now', cause: 'pairing-renewed' }
      : { action: 'pairing-expired', cause: 'pairing-expired' };
  }
  return { action: 'backoff', cause: causeOfCode(code) };
}

/** The Boom status code of a close error (`error.output.statusCode`), if it has one. */
export function statusCodeOf(error: unknown): number | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const output = (error as { output?: { statusCode?: unknown } }).output;
  const code = output?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A Baileys session's pairing: the QR codes each socket shows, pairing codes requested for a
 * phone number, and the callers waiting for such a code. The adapter owns the sockets and the
 * state machine; this keeps the counts and the challenges they publish.
 */
import type { AuthenticationCreds } from '@whiskeysockets/baileys';
import type { PairingChallenge } from '../channel.ts';
import { ChannelError } from '../errors.ts';
import { type BaileysLogger, describe } from './logger.ts';
import type { Scheduler } from './scheduler.ts';

/** Whether creds belong to a linked device (pair-success stores `account`; `me` alone is set by a code request). */
export function isPaired(creds: AuthenticationCreds): boolean {
  return Boolean(creds.account && creds.me?.id);
}

/** Baileys' QR lifetimes: a socket's first code lasts 60 s, each next one 20 s. */
const DEFAULT_QR_FIRST_MS = 60_000;
const DEFAULT_QR_NEXT_MS = 20_000;

type PairingWaiter = { resolve: (challenge: PairingChallenge) => void; reject: (error: Error) => void };

/** Options for {@link Pairing}. */
export interface PairingOptions {
  sessionId: string;
  now: () => Date;
  scheduler: Scheduler;
  logger: BaileysLogger;
  /** `socketConfig.qrTimeout`: every QR's lifetime, when set. */
  qrTimeoutMs: number | undefined;
  /** How long a pairing code is valid once issued (the socket's pairing window). */
  codeTtlMs: number;
  /** How long {@link Pairing.waitForCode} waits. */
  codeTimeoutMs: number;
  /** Publishes a pairing code (the adapter's `pairing` event). */
  publish: (challenge: PairingChallenge) => void;
}

/** See the module comment. */
export class Pairing {
  /** The phone number (digits) a pairing code is wanted for, until the session pairs. */
  phone: string | undefined;
  /** Sockets opened unpaired since the last connect or open (each is a round of QR codes). */
  round = 0;
  /** Whether the current socket started unpaired: its open completes a pairing. */
  wasUnpaired = false;

  readonly #options: PairingOptions;
  #codesShown = 0;
  #firstCodeAt = 0;
  #sequence = 0;
  readonly #waiters = new Set<PairingWaiter>();

  constructor(options: PairingOptions) {
    this.#options = options;
  }

  /** Whether the current socket has shown a QR code (it is past its handshake). */
  get codeShown(): boolean {
    return this.#codesShown > 0;
  }

  /** A new socket: it has shown nothing yet. */
  socketOpened(): void {
    this.#codesShown = 0;
  }

  /** Counts a QR code of the current socket; returns whether it is the socket's first and its TTL. */
  qrShown(): { first: boolean; ttlMs: number } {
    this.#codesShown += 1;
    const first = this.#codesShown === 1;
    if (first) this.#firstCodeAt = this.#options.now().getTime();
    const ttlMs = this.#options.qrTimeoutMs ?? (first ? DEFAULT_QR_FIRST_MS : DEFAULT_QR_NEXT_MS);
    return { first, ttlMs };
  }

  /** A challenge issued now, numbered after every earlier one so a late publisher cannot win. */
  challenge(
    kind: PairingChallenge['kind'],
    code: string,
    ttlMs: number,
    phoneNumber?: string,
  ): PairingChallenge {
    const issuedAt = this.#options.now();
    const challenge: PairingChallenge = {
      sessionId: this.#options.sessionId,
      kind,
      code,
      ttlMs,
      issuedAt,
      expiresAt: new Date(issuedAt.getTime() + ttlMs),
      sequence: ++this.#sequence,
    };
    if (phoneNumber) challenge.phoneNumber = phoneNumber;
    return challenge;
  }

  /** The next pairing code, or TIMEOUT after `codeTimeoutMs`; rejected by {@link rejectWaiters}. */
  waitForCode(): Promise<PairingChallenge> {
    const { scheduler, sessionId, codeTimeoutMs } = this.#options;
    const challenge = new Promise<PairingChallenge>((resolve, reject) => {
      const waiter: PairingWaiter = {
        resolve: (value) => {
          cancel();
          resolve(value);
        },
        reject: (error) => {
          cancel();
          reject(error);
        },
      };
      const cancel = scheduler.setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new ChannelError('TIMEOUT', `no pairing code for session ${sessionId} in time`));
      }, codeTimeoutMs);
      this.#waiters.add(waiter);
    });
    challenge.catch(() => {});
    return challenge;
  }

  /**
   * Asks `socket` for a pairing code for {@link phone}, publishes it valid for the rest of the
   * socket's pairing window and hands it to the waiters; `current` says whether the socket is
   * still the channel's when the code arrives.
   */
  async requestCode(
    socket: { requestPairingCode(phoneNumber: string): Promise<string> },
    current: () => boolean,
  ): Promise<void> {
    const phone = this.phone;
    if (!phone) return;
    const { now, codeTtlMs, sessionId } = this.#options;
    try {
      const code = await socket.requestPairingCode(phone);
      if (!current()) return;
      const elapsed = now().getTime() - this.#firstCodeAt;
      const challenge = this.challenge('code', code, Math.max(0, codeTtlMs - elapsed), phone);
      this.#options.publish(challenge);
      for (const waiter of [...this.#waiters]) {
        this.#waiters.delete(waiter);
        waiter.resolve(challenge);
      }
    } catch (error) {
      this.#options.logger.warn({ sessionId, err: describe(error) }, 'pairing code request failed');
      this.rejectWaiters(
        new ChannelError('PAIRING_FAILED', `pairing code request for session ${sessionId} failed`, {
          cause: error,
        }),
      );
    }
  }

  /** Fails every caller waiting for a code. */
  rejectWaiters(error: Error): void {
    for (const waiter of [...this.#waiters]) {
      this.#waiters.delete(waiter);
      waiter.reject(error);
    }
  }
}

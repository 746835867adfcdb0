import {
  type AnyMessageContent,
  type AuthenticationCreds,
  type ConnectionState,
  type MiscMessageGenerationOptions,
  makeCacheableSignalKeyStore,
  makeWASocket,
  type SocketConfig,
  toNumber,
  type UserFacingSocketConfig,
  type WAMessage,
  type WAPresence,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { Cluster, Redis } from 'ioredis';
import {
  type Channel,
  type ChannelCapabilities,
  ChannelError,
  type ChannelEventName,
  type ChannelEvents,
  type ChannelListener,
  type ConnectOptions,
  type ContactRef,
  type OutboundContent,
  type OutboundMessage,
  type OutboundPresence,
  type PairingChallenge,
  type SendResult,
  type SessionState,
  StaleEpochError,
  type StateCause,
  type StateChange,
  UnrecoverableChannelError,
} from '../channel.ts';
import { ChannelListeners } from '../listeners.ts';
import {
  type AuthStateKeys,
  authStateKeys,
  createRedisAuthState,
  type RedisAuthState,
  readFence,
} from './auth-state.ts';
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';
import { lidOf, phoneDigits, pnOf, recipientJid } from './jid.ts';
import { decideOnClose, statusCodeOf } from './lifecycle.ts';
import { type BaileysLogger, silentLogger } from './logger.ts';
import {
  type MappedEvent,
  type MappingContext,
  mapLidMapping,
  mapMessageUpdates,
  mapPresence,
  mapReceiptUpdates,
  mapUpsert,
} from './mapping.ts';

/** The part of Baileys' socket the adapter uses; a test stand-in implements exactly this. */
export type BaileysSocket = Pick<
  WASocket,
  'ev' | 'user' | 'sendMessage' | 'sendPresenceUpdate' | 'requestPairingCode' | 'logout' | 'end'
>;

/** Makes a socket from Baileys' config; the default is Baileys' own makeWASocket. */
export type SocketFactory = (config: UserFacingSocketConfig) => BaileysSocket;

/** Runs `fn` after `ms`; returns the way to cancel it. Injected so tests control time. */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): () => void;
}

/** Node's timers. */
export const realScheduler: Scheduler = {
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/** Options for {@link BaileysChannel.create}. */
export interface BaileysChannelOptions {
  sessionId: string;
  /** A command connection to the tenant's Redis (auth state and fence). */
  redis: Redis | Cluster;
  /** The tenant's key prefix, e.g. `sb:acme:`. */
  keyPrefix: string;
  /** The epoch of this worker's claim of the session. */
  epoch: bigint | number;
  /** Makes sockets; tests pass the stand-in's. */
  socketFactory?: SocketFactory;
  /**
   * More Baileys socket config (`getMessage` for message retries, `browser`, `qrTimeout`...).
   * The adapter sets `auth` and `logger`, and defaults `markOnlineOnConnect: false` (so the phone
   * keeps its notifications) and `emitOwnEvents: false` (sent messages come back as the send's
   * result, not as an inbound echo).
   */
  socketConfig?: Omit<Partial<SocketConfig>, 'auth' | 'logger'>;
  /** Baileys' logger; keep it at `warn` or above (lower levels log message content). */
  logger?: BaileysLogger;
  /** Reconnect backoff. */
  backoff?: Partial<BackoffPolicy>;
  /** A connection that stayed open this long resets the backoff to its first step (default 60 s). */
  stableAfterMs?: number;
  /** Pairing rounds (each a socket's QR codes, about 160 s) before giving up as `unpaired` (default 3). */
  maxPairingRounds?: number;
  /**
   * How long a pairing code is valid once issued (default 160 s: it is tied to the socket's
   * pairing window, the first QR's 60 s plus five more of 20 s; a new round brings a new code).
   */
  pairingCodeTtlMs?: number;
  /** How long requestPairingCode waits for the code (default 30 s). */
  pairingCodeTimeoutMs?: number;
  scheduler?: Scheduler;
  random?: () => number;
  now?: () => Date;
}

/** Whether creds belong to a linked device (pair-success stores `account`; `me` alone is set by a code request). */
export function isPaired(creds: AuthenticationCreds): boolean {
  return Boolean(creds.account && creds.me?.id);
}

type PairingWaiter = { resolve: (challenge: PairingChallenge) => void; reject: (error: Error) => void };

const DEFAULT_QR_FIRST_MS = 60_000;
const DEFAULT_QR_NEXT_MS = 20_000;

/**
 * A WhatsApp Web session through Baileys 7, behind the {@link Channel} port.
 *
 * One instance per claim: it carries the claim's epoch, checks the fence before it opens a
 * socket or sends, and every auth-state write is fenced in Redis. Once fenced out it stops for
 * good; the new owner creates its own instance.
 */
export class BaileysChannel implements Channel {
  readonly kind = 'baileys' as const;
  readonly capabilities: ChannelCapabilities = { pairing: true, persistentConnection: true };
  readonly sessionId: string;
  /** The epoch this instance writes and sends under. */
  readonly epoch: bigint;
  /** The session's Redis keys. */
  readonly keys: AuthStateKeys;

  readonly #options: BaileysChannelOptions;
  readonly #redis: Redis | Cluster;
  readonly #factory: SocketFactory;
  readonly #logger: BaileysLogger;
  readonly #backoff: BackoffPolicy;
  readonly #scheduler: Scheduler;
  readonly #random: () => number;
  readonly #now: () => Date;
  readonly #listeners: ChannelListeners;

  #state: SessionState;
  #auth: RedisAuthState | undefined;
  #socket: BaileysSocket | undefined;
  #generation = 0;
  #socketCause: StateCause = 'connect';
  #running = false;
  #stopRequested = false;
  #logoutRequested = false;
  #fenced: StaleEpochError | undefined;
  #attempt = 0;
  #openedAt: number | undefined;
  #pairingRound = 0;
  #codesShown = 0;
  #firstCodeAt = 0;
  #wasUnpaired = false;
  #pairingPhone: string | undefined;
  #sequence = 0;
  #cancelReconnect: (() => void) | undefined;
  #closing: Promise<void> = Promise.resolve();
  #inbound: Promise<void> = Promise.resolve();
  readonly #pairingWaiters = new Set<PairingWaiter>();

  private constructor(options: BaileysChannelOptions, auth: RedisAuthState) {
    this.#options = options;
    this.sessionId = options.sessionId;
    this.epoch = BigInt(options.epoch);
    this.keys = authStateKeys(options.keyPrefix, options.sessionId);
    this.#redis = options.redis;
    this.#factory = options.socketFactory ?? ((config) => makeWASocket(config));
    this.#logger = options.logger ?? silentLogger;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#scheduler = options.scheduler ?? realScheduler;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => new Date());
    this.#listeners = new ChannelListeners((event, error) =>
      this.#logger.error(
        { sessionId: this.sessionId, event, err: describe(error) },
        'channel listener failed',
      ),
    );
    this.#auth = auth;
    this.#state = isPaired(auth.state.creds) ? 'disconnected' : 'unpaired';
  }

  /** Reads the session's auth state and returns a channel that has not connected yet. */
  static async create(options: BaileysChannelOptions): Promise<BaileysChannel> {
    let channel: BaileysChannel | undefined;
    const auth = await createRedisAuthState({
      ...options,
      onStale: (error) => {
        if (channel) channel.#onFenceLost(error);
      },
    });
    channel = new BaileysChannel(options, auth);
    return channel;
  }

  get state(): SessionState {
    return this.#state;
  }

  on<E extends ChannelEventName>(event: E, listener: ChannelListener<E>): () => void {
    return this.#listeners.on(event, listener);
  }

  async connect(options: ConnectOptions = {}): Promise<void> {
    if (options.pairingPhoneNumber !== undefined)
      this.#pairingPhone = this.#validPhone(options.pairingPhoneNumber);
    if (this.#running) return;
    await this.#assertFence('connect');
    if (this.#running) return;
    if (!this.#auth) this.#auth = await this.#loadAuth();
    this.#running = true;
    this.#stopRequested = false;
    this.#logoutRequested = false;
    this.#attempt = 0;
    this.#pairingRound = 0;
    this.#openSocket('connect');
  }

  async disconnect(): Promise<void> {
    this.#stopRequested = true;
    this.#cancelPendingReconnect();
    const socket = this.#socket;
    if (socket) {
      await this.#endSocket(socket);
    } else if (this.#running) {
      this.#running = false;
      this.#transition('disconnected', 'stopped', { willReconnect: false });
    }
    this.#rejectPairingWaiters(new ChannelError('NOT_CONNECTED', `session ${this.sessionId} was stopped`));
    await this.#closing;
    await this.#inbound;
  }

  async logout(): Promise<void> {
    this.#logoutRequested = true;
    this.#cancelPendingReconnect();
    const socket = this.#socket;
    if (socket) {
      if (this.#state === 'connected') {
        try {
          // Tells WhatsApp to remove this companion device, then ends the socket with 401.
          await socket.logout();
        } catch (error) {
          this.#logger.warn({ sessionId: this.sessionId, err: describe(error) }, 'logout request failed');
        }
      }
      await this.#endSocket(socket);
    } else if (this.#state !== 'logged_out') {
      this.#closing = this.#wipeAndStop('logout');
    }
    this.#rejectPairingWaiters(
      new UnrecoverableChannelError('LOGGED_OUT', `session ${this.sessionId} logged out`),
    );
    await this.#closing;
    await this.#inbound;
    // A fenced-out owner must not believe it removed the new owner's credentials.
    if (this.#fenced && this.#state !== 'logged_out') throw this.#fenced;
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const socket = this.#connectedSocket('send');
    const jid = recipientJid(message.to);
    if (!jid)
      throw new UnrecoverableChannelError(
        'INVALID_NUMBER',
        'recipient is not a phone number or WhatsApp address',
        { status: 400 },
      );
    const content = toBaileysContent(message.content, jid);
    const options: MiscMessageGenerationOptions = {};
    if (message.providerMessageId) options.messageId = message.providerMessageId;
    if (message.replyTo) options.quoted = quotedMessage(jid, message.replyTo);
    await this.#assertFence('send');
    if (this.#socket !== socket) throw notConnected(this.sessionId, this.#state);
    let result: WAMessage | undefined;
    try {
      result = await socket.sendMessage(jid, content, options);
    } catch (error) {
      throw sendError(error, this.sessionId);
    }
    const id = result?.key?.id;
    if (!id)
      throw new ChannelError('SEND_FAILED', `send on session ${this.sessionId} returned no message id`);
    const seconds = result?.messageTimestamp == null ? 0 : toNumber(result.messageTimestamp);
    return {
      providerMessageId: id,
      to: jid,
      timestamp: seconds > 0 ? new Date(seconds * 1000) : this.#now(),
    };
  }

  async sendPresence(to: string, presence: OutboundPresence): Promise<void> {
    const socket = this.#connectedSocket('presence');
    const type: WAPresence = presence === 'typing' ? 'composing' : presence;
    const global = presence === 'available' || presence === 'unavailable';
    const jid = global ? undefined : recipientJid(to);
    if (!global && !jid)
      throw new UnrecoverableChannelError('INVALID_NUMBER', 'presence target is not a WhatsApp address', {
        status: 400,
      });
    await this.#assertFence('presence');
    try {
      await socket.sendPresenceUpdate(type, jid);
    } catch (error) {
      throw sendError(error, this.sessionId);
    }
  }

  async requestPairingCode(phoneNumber: string): Promise<PairingChallenge> {
    const digits = this.#validPhone(phoneNumber);
    if (this.#auth && isPaired(this.#auth.state.creds)) {
      throw new UnrecoverableChannelError('ALREADY_PAIRED', `session ${this.sessionId} is already paired`, {
        status: 409,
      });
    }
    this.#pairingPhone = digits;
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
      const cancel = this.#scheduler.setTimeout(() => {
        this.#pairingWaiters.delete(waiter);
        reject(new ChannelError('TIMEOUT', `no pairing code for session ${this.sessionId} in time`));
      }, this.#options.pairingCodeTimeoutMs ?? 30_000);
      this.#pairingWaiters.add(waiter);
    });
    challenge.catch(() => {});
    if (!this.#running) {
      try {
        await this.connect();
      } catch (error) {
        this.#rejectPairingWaiters(error as Error);
      }
    } else if (this.#socket && this.#codesShown > 0) {
      // The socket is past its handshake (it showed a QR): ask now. Otherwise the first QR does.
      void this.#issuePairingCode(this.#generation, this.#socket);
    }
    return challenge;
  }

  // --- sockets ---------------------------------------------------------------------------

  async #loadAuth(): Promise<RedisAuthState> {
    return createRedisAuthState({ ...this.#options, onStale: (error) => this.#onFenceLost(error) });
  }

  #openSocket(cause: StateCause): void {
    const auth = this.#auth!;
    const creds = auth.state.creds;
    if (!isPaired(creds)) {
      // A pairing-code request stores `me` before the phone confirms; with `me` set Baileys
      // would try to log in with creds that were never linked, so a new round starts clean.
      if (creds.me) {
        creds.me = undefined;
        creds.pairingCode = undefined;
      }
      this.#wasUnpaired = true;
      this.#pairingRound += 1;
    }
    this.#generation += 1;
    const generation = this.#generation;
    this.#socketCause = cause;
    this.#codesShown = 0;
    this.#transition('connecting', cause);

    let socket: BaileysSocket;
    try {
      socket = this.#factory({
        markOnlineOnConnect: false,
        emitOwnEvents: false,
        ...this.#options.socketConfig,
        auth: { creds, keys: makeCacheableSignalKeyStore(auth.state.keys, this.#logger) },
        logger: this.#logger,
      });
    } catch (error) {
      this.#logger.error({ sessionId: this.sessionId, err: describe(error) }, 'socket factory failed');
      this.#handleClose(generation, error);
      return;
    }
    this.#socket = socket;
    const { ev } = socket;
    ev.on('connection.update', (update) => this.#onConnectionUpdate(generation, socket, update));
    // Every creds.update must be persisted (Baileys has already merged it into `creds`).
    ev.on('creds.update', () => {
      auth.saveCreds().catch((error: unknown) => this.#onWriteError('creds save', error));
    });
    ev.on('messages.upsert', (upsert) => this.#deliver('messages.upsert', (ctx) => mapUpsert(upsert, ctx)));
    ev.on('messages.update', (updates) =>
      this.#deliver('messages.update', (ctx) => mapMessageUpdates(updates, ctx)),
    );
    ev.on('message-receipt.update', (updates) =>
      this.#deliver('message-receipt.update', (ctx) => mapReceiptUpdates(updates, ctx)),
    );
    ev.on('presence.update', (update) => this.#deliver('presence.update', (ctx) => mapPresence(update, ctx)));
    ev.on('lid-mapping.update', (mapping) =>
      this.#deliver('lid-mapping.update', (ctx) => [mapLidMapping(mapping, ctx)]),
    );
  }

  #onConnectionUpdate(generation: number, socket: BaileysSocket, update: Partial<ConnectionState>): void {
    if (generation !== this.#generation) return;
    try {
      if (update.qr) this.#onQr(generation, socket, update.qr);
      if (update.connection === 'open') this.#onOpen(socket);
      if (update.connection === 'close') this.#handleClose(generation, update.lastDisconnect?.error);
    } catch (error) {
      this.#logger.error({ sessionId: this.sessionId, err: describe(error) }, 'connection update failed');
    }
  }

  #onQr(generation: number, socket: BaileysSocket, qr: string): void {
    this.#codesShown += 1;
    const first = this.#codesShown === 1;
    if (first) this.#firstCodeAt = this.#now().getTime();
    const qrTimeout = this.#options.socketConfig?.qrTimeout;
    const ttlMs = qrTimeout ?? (first ? DEFAULT_QR_FIRST_MS : DEFAULT_QR_NEXT_MS);
    if (this.#state !== 'pairing') this.#transition('pairing', this.#socketCause);
    this.#listeners.emit('pairing', this.#challenge('qr', qr, ttlMs));
    if (first && this.#pairingPhone) void this.#issuePairingCode(generation, socket);
  }

  async #issuePairingCode(generation: number, socket: BaileysSocket): Promise<void> {
    const phone = this.#pairingPhone;
    if (!phone) return;
    try {
      const code = await socket.requestPairingCode(phone);
      if (generation !== this.#generation) return;
      const window = this.#options.pairingCodeTtlMs ?? 160_000;
      const elapsed = this.#now().getTime() - this.#firstCodeAt;
      const challenge = this.#challenge('code', code, Math.max(0, window - elapsed), phone);
      this.#listeners.emit('pairing', challenge);
      for (const waiter of [...this.#pairingWaiters]) {
        this.#pairingWaiters.delete(waiter);
        waiter.resolve(challenge);
      }
    } catch (error) {
      this.#logger.warn({ sessionId: this.sessionId, err: describe(error) }, 'pairing code request failed');
      this.#rejectPairingWaiters(
        new ChannelError('PAIRING_FAILED', `pairing code request for session ${this.sessionId} failed`, {
          cause: error,
        }),
      );
    }
  }

  #challenge(
    kind: PairingChallenge['kind'],
    code: string,
    ttlMs: number,
    phoneNumber?: string,
  ): PairingChallenge {
    const issuedAt = this.#now();
    const challenge: PairingChallenge = {
      sessionId: this.sessionId,
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

  #onOpen(socket: BaileysSocket): void {
    this.#openedAt = this.#now().getTime();
    this.#pairingRound = 0;
    const me = socket.user ?? this.#auth?.state.creds.me;
    const phoneNumber = pnOf(me?.id);
    this.#transition('connected', this.#socketCause, phoneNumber ? { phoneNumber } : {});
    if (this.#wasUnpaired) {
      this.#wasUnpaired = false;
      this.#pairingPhone = undefined;
      const lid = lidOf(me?.lid);
      this.#listeners.emit('paired', {
        sessionId: this.sessionId,
        ...(phoneNumber ? { phoneNumber } : {}),
        ...(lid ? { lid } : {}),
        at: this.#now(),
      });
    }
  }

  /** Ends `socket` and makes sure its close is handled even if it was already closed. */
  async #endSocket(socket: BaileysSocket): Promise<void> {
    const generation = this.#generation;
    try {
      await socket.end(undefined);
    } catch (error) {
      this.#logger.warn({ sessionId: this.sessionId, err: describe(error) }, 'socket end failed');
    }
    if (this.#socket === socket && this.#generation === generation) this.#handleClose(generation, undefined);
  }

  #handleClose(generation: number, error: unknown): void {
    if (generation !== this.#generation) return;
    // Whatever the old socket still emits from here on is ignored.
    this.#generation += 1;
    this.#socket = undefined;
    const now = this.#now().getTime();
    if (this.#openedAt !== undefined && now - this.#openedAt >= (this.#options.stableAfterMs ?? 60_000)) {
      this.#attempt = 0;
    }
    this.#openedAt = undefined;
    const code = statusCodeOf(error);
    const detail = error instanceof Error ? error.message.slice(0, 200) : undefined;
    const extra: Partial<StateChange> = {};
    if (code !== undefined) extra.code = code;
    if (detail) extra.detail = detail;
    const decision = decideOnClose({
      code,
      stopRequested: this.#stopRequested,
      logoutRequested: this.#logoutRequested,
      fenced: this.#fenced !== undefined,
      paired: this.#auth ? isPaired(this.#auth.state.creds) : false,
      codesShown: this.#codesShown > 0,
      pairingRound: this.#pairingRound,
      maxPairingRounds: this.#options.maxPairingRounds ?? 3,
    });
    switch (decision.action) {
      case 'stop':
        this.#running = false;
        this.#transition('disconnected', decision.cause, { ...extra, willReconnect: false });
        break;
      case 'wipe':
        this.#closing = this.#wipeAndStop(decision.cause, extra);
        break;
      case 'reconnect-now':
        void this.#reconnect(decision.cause);
        break;
      case 'pairing-expired':
        this.#running = false;
        this.#transition('unpaired', decision.cause, extra);
        this.#rejectPairingWaiters(
          new ChannelError('PAIRING_FAILED', `pairing of session ${this.sessionId} expired`),
        );
        break;
      case 'backoff': {
        this.#attempt += 1;
        const attempt = this.#attempt;
        const retryInMs = backoffDelay(attempt, this.#backoff, this.#random);
        this.#transition('disconnected', decision.cause, {
          ...extra,
          willReconnect: true,
          retryInMs,
          attempt,
        });
        this.#cancelReconnect = this.#scheduler.setTimeout(() => {
          this.#cancelReconnect = undefined;
          void this.#reconnect(decision.cause);
        }, retryInMs);
        break;
      }
    }
  }

  async #reconnect(cause: StateCause): Promise<void> {
    if (!this.#running || this.#stopRequested || this.#logoutRequested) return;
    try {
      await this.#assertFence('reconnect');
    } catch (error) {
      if (error instanceof StaleEpochError) return; // #onFenceLost has stopped the channel.
      // Redis unreachable: count it as a failed attempt and back off.
      this.#logger.warn(
        { sessionId: this.sessionId, err: describe(error) },
        'fence check before reconnect failed',
      );
      this.#generation += 1;
      const generation = this.#generation;
      this.#handleClose(generation, error);
      return;
    }
    if (!this.#running || this.#stopRequested || this.#logoutRequested || this.#socket) return;
    this.#openSocket(cause);
  }

  async #wipeAndStop(cause: StateCause, extra: Partial<StateChange> = {}): Promise<void> {
    this.#running = false;
    const auth = this.#auth ?? (await this.#loadAuth().catch(() => undefined));
    this.#auth = undefined;
    try {
      await auth?.wipe();
    } catch (error) {
      if (error instanceof StaleEpochError) return;
      // The creds stay behind; the next connect meets 401 again and wipes again.
      this.#logger.error({ sessionId: this.sessionId, err: describe(error) }, 'auth-state wipe failed');
    }
    this.#transition('logged_out', cause, { ...extra, willReconnect: false });
  }

  #onFenceLost(error: StaleEpochError): void {
    if (this.#fenced) return;
    this.#fenced = error;
    this.#logger.warn(
      { sessionId: this.sessionId, epoch: String(this.epoch), fence: String(error.fence) },
      'fenced out',
    );
    this.#cancelPendingReconnect();
    this.#rejectPairingWaiters(error);
    const socket = this.#socket;
    if (socket) {
      void this.#endSocket(socket);
    } else if (this.#running) {
      this.#running = false;
      this.#transition('disconnected', 'stale-epoch', { willReconnect: false });
    }
  }

  #onWriteError(what: string, error: unknown): void {
    // Stale writes already stopped the channel through onStale; anything else is Redis trouble.
    if (error instanceof StaleEpochError) return;
    this.#logger.error({ sessionId: this.sessionId, err: describe(error) }, `${what} failed`);
  }

  #cancelPendingReconnect(): void {
    this.#cancelReconnect?.();
    this.#cancelReconnect = undefined;
  }

  async #assertFence(what: string): Promise<void> {
    let fence: bigint;
    try {
      fence = await readFence(this.#redis, this.keys);
    } catch (error) {
      // Without the fence nobody can tell whether this worker still owns the session: refuse, retryably.
      throw new ChannelError('FENCE_UNAVAILABLE', `${what} for session ${this.sessionId}: fence unreadable`, {
        cause: error,
      });
    }
    if (fence > this.epoch) {
      const error = new StaleEpochError(this.sessionId, this.epoch, fence, what);
      this.#onFenceLost(error);
      throw error;
    }
  }

  #connectedSocket(what: string): BaileysSocket {
    if (this.#fenced) throw new StaleEpochError(this.sessionId, this.epoch, this.#fenced.fence, what);
    if (this.#state === 'logged_out') {
      throw new UnrecoverableChannelError('LOGGED_OUT', `session ${this.sessionId} is logged out`, {
        status: 409,
      });
    }
    const socket = this.#socket;
    if (!socket || this.#state !== 'connected') throw notConnected(this.sessionId, this.#state);
    return socket;
  }

  #validPhone(input: string): string {
    const digits = phoneDigits(input);
    if (!digits)
      throw new UnrecoverableChannelError('INVALID_NUMBER', 'not a phone number (E.164 digits expected)', {
        status: 400,
      });
    return digits;
  }

  #rejectPairingWaiters(error: Error): void {
    for (const waiter of [...this.#pairingWaiters]) {
      this.#pairingWaiters.delete(waiter);
      waiter.reject(error);
    }
  }

  // --- events ----------------------------------------------------------------------------

  #transition(state: SessionState, cause: StateCause, extra: Partial<StateChange> = {}): void {
    const previous = this.#state;
    this.#state = state;
    const change: StateChange = {
      sessionId: this.sessionId,
      state,
      previous,
      cause,
      ...extra,
      at: this.#now(),
    };
    this.#listeners.emit('state', change);
  }

  #mappingContext(): MappingContext {
    const me = this.#auth?.state.creds.me;
    return { sessionId: this.sessionId, ...(me ? { me } : {}), now: this.#now };
  }

  /**
   * Maps an event now (in Baileys' order) and emits its domain events in that order after
   * filling in phone numbers the event left out but the session's LID mappings know.
   */
  #deliver(source: string, map: (ctx: MappingContext) => MappedEvent[]): void {
    let events: MappedEvent[];
    try {
      events = map(this.#mappingContext());
    } catch (error) {
      events = [
        {
          event: 'unsupported',
          payload: {
            sessionId: this.sessionId,
            source,
            reason: 'mapping-error',
            detail: describe(error),
            at: this.#now(),
          },
        },
      ];
    }
    const auth = this.#auth;
    this.#inbound = this.#inbound
      .then(async () => {
        if (auth) await resolvePhoneNumbers(auth, events);
      })
      .catch((error: unknown) => {
        this.#logger.warn({ sessionId: this.sessionId, err: describe(error) }, 'LID to PN lookup failed');
      })
      .then(() => {
        for (const { event, payload } of events) this.#emit(event, payload);
      })
      .catch(() => {});
  }

  #emit<E extends ChannelEventName>(event: E, payload: ChannelEvents[E]): void {
    this.#listeners.emit(event, payload);
  }
}

/** Contacts an event mentions. */
function contactsOf(mapped: MappedEvent): ContactRef[] {
  switch (mapped.event) {
    case 'message': {
      const { sender, chat } = mapped.payload;
      return chat.contact && chat.contact !== sender ? [sender, chat.contact] : [sender];
    }
    case 'receipt':
      return mapped.payload.recipient ? [mapped.payload.recipient] : [];
    case 'presence':
      return [mapped.payload.contact];
    default:
      return [];
  }
}

/**
 * v7 addresses many chats by LID and the alternate PN is sometimes missing; Baileys keeps the
 * mappings it learns in the key store (`lid-mapping`, `<lid>_reverse` -> PN digits), so look
 * there once per event batch.
 */
async function resolvePhoneNumbers(auth: RedisAuthState, events: MappedEvent[]): Promise<void> {
  const missing = events.flatMap(contactsOf).filter((contact) => contact.lid && !contact.pn);
  if (missing.length === 0) return;
  const ids = [...new Set(missing.map((contact) => `${contact.lid}_reverse`))];
  const found = await auth.state.keys.get('lid-mapping', ids);
  for (const contact of missing) {
    const pn = found[`${contact.lid}_reverse`];
    if (typeof pn === 'string' && pn) contact.pn = pn;
  }
}

function toBaileysContent(content: OutboundContent, jid: string): AnyMessageContent {
  const invalid = (why: string) => new UnrecoverableChannelError('INVALID_CONTENT', why, { status: 400 });
  switch (content.type) {
    case 'text':
      if (!content.text) throw invalid('text message without text');
      return { text: content.text };
    case 'reaction':
      if (!content.targetId) throw invalid('reaction without a target');
      return {
        react: {
          text: content.emoji ?? '',
          key: { remoteJid: jid, id: content.targetId, fromMe: content.targetFromMe ?? false },
        },
      };
    case 'location':
      if (!Number.isFinite(content.latitude) || !Number.isFinite(content.longitude))
        throw invalid('location without coordinates');
      return {
        location: {
          degreesLatitude: content.latitude,
          degreesLongitude: content.longitude,
          ...(content.name ? { name: content.name } : {}),
          ...(content.address ? { address: content.address } : {}),
        },
      };
    case 'contact':
      if (!content.vcard) throw invalid('contact without a vcard');
      return {
        contacts: {
          ...(content.displayName ? { displayName: content.displayName } : {}),
          contacts: [
            { vcard: content.vcard, ...(content.displayName ? { displayName: content.displayName } : {}) },
          ],
        },
      };
    case 'template':
      // Templates are a Cloud API (Meta) feature; WhatsApp Web has nothing to send them with.
      throw invalid('templates can only be sent through the Cloud API');
    case 'media':
      return mediaContent(content, invalid);
    default:
      throw invalid(`unsupported content type ${(content as { type: string }).type}`);
  }
}

/**
 * Media as bytes: Baileys encrypts them with a fresh media key, uploads the ciphertext to
 * WhatsApp's media servers and sends the message that points at it. URLs are refused rather than
 * handed to Baileys (which would fetch any URL from inside the worker); provider media ids are
 * a Cloud API notion.
 */
function mediaContent(
  content: Extract<OutboundContent, { type: 'media' }>,
  invalid: (why: string) => UnrecoverableChannelError,
): AnyMessageContent {
  if (content.data === undefined)
    throw invalid('Baileys sends media from its bytes (data), not from a URL or a provider media id');
  if (content.url !== undefined || content.providerMediaId !== undefined)
    throw invalid('media needs exactly one of data, url or providerMediaId');
  if (content.data.byteLength === 0) throw invalid('media without bytes');
  if (content.caption && (content.kind === 'audio' || content.kind === 'sticker'))
    throw invalid(`${content.kind} cannot carry a caption`);
  const data = Buffer.from(content.data.buffer, content.data.byteOffset, content.data.byteLength);
  const caption = content.caption ? { caption: content.caption } : {};
  const mimetype = content.mimetype ? { mimetype: content.mimetype } : {};
  switch (content.kind) {
    case 'image':
      return { image: data, ...caption, ...mimetype };
    case 'video':
      return { video: data, ...caption, ...mimetype };
    case 'audio':
      return { audio: data, ...mimetype };
    case 'sticker':
      return { sticker: data, ...mimetype };
    case 'document':
      if (!content.mimetype) throw invalid('a document needs a mimetype');
      return {
        document: data,
        mimetype: content.mimetype,
        fileName: content.fileName ?? 'file',
        ...caption,
      };
  }
}

/** The minimal quoted message Baileys needs to build a reply's contextInfo (stanzaId, participant, quote). */
function quotedMessage(jid: string, replyTo: NonNullable<OutboundMessage['replyTo']>): WAMessage {
  const author = replyTo.author ? recipientJid(replyTo.author) : undefined;
  return {
    key: {
      remoteJid: jid,
      id: replyTo.providerMessageId,
      fromMe: replyTo.fromMe ?? false,
      ...(author ? { participant: author } : {}),
    },
    message: { conversation: replyTo.text ?? '' },
  };
}

function notConnected(sessionId: string, state: SessionState): ChannelError {
  return new ChannelError('NOT_CONNECTED', `session ${sessionId} is not connected (${state})`);
}

function sendError(error: unknown, sessionId: string): ChannelError {
  if (error instanceof ChannelError) return error;
  const code = statusCodeOf(error);
  const suffix = code === undefined ? '' : ` (${code})`;
  if (code === 428 || code === 408 || code === 440 || code === 503) {
    return new ChannelError(
      'NOT_CONNECTED',
      `session ${sessionId} lost its connection while sending${suffix}`,
      { cause: error },
    );
  }
  if (code === 401)
    return new UnrecoverableChannelError('LOGGED_OUT', `session ${sessionId} is logged out`, {
      status: 409,
      cause: error,
    });
  if (code === 400)
    return new UnrecoverableChannelError('INVALID_CONTENT', `WhatsApp rejected the message${suffix}`, {
      status: 400,
      cause: error,
    });
  return new ChannelError('SEND_FAILED', `send on session ${sessionId} failed${suffix}`, { cause: error });
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split('\n')[0]!.slice(0, 200);
}

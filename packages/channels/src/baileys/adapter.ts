import {
  type BaileysEventMap,
  type ConnectionState,
  makeCacheableSignalKeyStore,
  makeWASocket,
  toNumber,
  type WAMessage,
} from '@whiskeysockets/baileys';
import type { Cluster, Redis } from 'ioredis';
import type {
  Channel,
  ChannelCapabilities,
  ChannelEventName,
  ChannelEvents,
  ChannelListener,
  ConnectOptions,
  OutboundMessage,
  OutboundPresence,
  PairingChallenge,
  SendResult,
  SessionState,
  StateCause,
  StateChange,
} from '../channel.ts';
import { ChannelError, StaleEpochError, UnrecoverableChannelError } from '../errors.ts';
import { ChannelListeners } from '../listeners.ts';
import {
  type AuthStateKeys,
  authStateKeys,
  createRedisAuthState,
  type RedisAuthState,
  readFence,
} from './auth-state.ts';
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';
import { BaileysGroups, GroupMetadataCache } from './groups.ts';
import { HistoryImport } from './history.ts';
import { lidOf, phoneDigits, pnOf } from './jid.ts';
import { decideOnClose, statusCodeOf } from './lifecycle.ts';
import { type BaileysLogger, describe, silentLogger } from './logger.ts';
import {
  groupAddresses,
  type MappedEvent,
  type MappingContext,
  mapCalls,
  mapLidMapping,
  mapMessageUpdates,
  mapPresence,
  mapReceiptUpdates,
  mapUpsert,
  resolvePhoneNumbers,
} from './mapping.ts';
import type { BaileysChannelOptions, BaileysSocket, SocketFactory } from './options.ts';
import { sendError, toBaileysPresence, toBaileysSend } from './outbound.ts';
import { isPaired, Pairing } from './pairing.ts';
import { decryptPollVotes, PollStore, pollRecordOf, pollVotesOf, rememberPolls } from './polls.ts';
import { realScheduler, type Scheduler } from './scheduler.ts';

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
  readonly #pairing: Pairing;
  readonly #groupCache = new GroupMetadataCache();
  /** Group operations, and the group info read when a group is first seen (groups.ts). */
  readonly groups: BaileysGroups;
  readonly #polls: PollStore;

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
  #cancelReconnect: (() => void) | undefined;
  #closing: Promise<void> = Promise.resolve();
  #inbound: Promise<void> = Promise.resolve();
  /** The history import of the socket that opens right after pairing (history.ts). */
  #history: { generation: number; run: HistoryImport } | undefined;

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
    this.#pairing = new Pairing({
      sessionId: this.sessionId,
      now: this.#now,
      scheduler: this.#scheduler,
      logger: this.#logger,
      qrTimeoutMs: options.socketConfig?.qrTimeout,
      codeTtlMs: options.pairingCodeTtlMs ?? 160_000,
      codeTimeoutMs: options.pairingCodeTimeoutMs ?? 30_000,
      publish: (challenge) => this.#listeners.emit('pairing', challenge),
    });
    this.groups = new BaileysGroups({
      sessionId: this.sessionId,
      cache: this.#groupCache,
      socket: async (what) => {
        const socket = this.#connectedSocket(what);
        await this.#assertFence(what);
        if (this.#socket !== socket) throw notConnected(this.sessionId, this.#state);
        return socket;
      },
      emit: (event) => this.#deliver('groupMetadata', () => [{ event: 'group', payload: event }]),
      now: this.#now,
      onError: (error, group) =>
        this.#logger.warn(
          { sessionId: this.sessionId, group, err: describe(error) },
          'group metadata read failed',
        ),
    });
    this.#polls = new PollStore(options.redis, options.keyPrefix, options.sessionId);
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
      this.#pairing.phone = this.#validPhone(options.pairingPhoneNumber);
    if (this.#running) return;
    await this.#assertFence('connect');
    if (this.#running) return;
    if (!this.#auth) this.#auth = await this.#loadAuth();
    this.#running = true;
    this.#stopRequested = false;
    this.#logoutRequested = false;
    this.#attempt = 0;
    this.#pairing.round = 0;
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
    this.#pairing.rejectWaiters(new ChannelError('NOT_CONNECTED', `session ${this.sessionId} was stopped`));
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
    this.#pairing.rejectWaiters(
      new UnrecoverableChannelError('LOGGED_OUT', `session ${this.sessionId} logged out`),
    );
    await this.#closing;
    await this.#inbound;
    // A fenced-out owner must not believe it removed the new owner's credentials.
    if (this.#fenced && this.#state !== 'logged_out') throw this.#fenced;
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const socket = this.#connectedSocket('send');
    const { jid, content, options } = toBaileysSend(message);
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
    if (message.content.type === 'poll') await this.#rememberSentPoll(id, result!);
    const seconds = result?.messageTimestamp == null ? 0 : toNumber(result.messageTimestamp);
    return {
      providerMessageId: id,
      to: jid,
      timestamp: seconds > 0 ? new Date(seconds * 1000) : this.#now(),
    };
  }

  async rejectCall(call: { callId: string; from: string }): Promise<void> {
    const socket = this.#connectedSocket('reject call');
    await this.#assertFence('reject call');
    try {
      await socket.rejectCall(call.callId, call.from);
    } catch (error) {
      throw sendError(error, this.sessionId);
    }
  }

  async markRead(chat: string, providerMessageIds: string[]): Promise<void> {
    const socket = this.#connectedSocket('mark read');
    const { jid } = toBaileysPresence(chat, 'paused');
    await this.#assertFence('mark read');
    try {
      await socket.readMessages(providerMessageIds.map((id) => ({ remoteJid: jid!, id, fromMe: false })));
    } catch (error) {
      throw sendError(error, this.sessionId);
    }
  }

  async subscribePresence(chat: string): Promise<void> {
    const socket = this.#connectedSocket('presence subscribe');
    const { jid } = toBaileysPresence(chat, 'paused');
    await this.#assertFence('presence subscribe');
    try {
      await socket.presenceSubscribe(jid!);
    } catch (error) {
      throw sendError(error, this.sessionId);
    }
  }

  /** Keeps what decrypting the votes on a poll we sent needs; the send itself already succeeded. */
  async #rememberSentPoll(id: string, sent: WAMessage): Promise<void> {
    const record = pollRecordOf(sent, this.#mappingContext());
    try {
      if (record) await this.#polls.save(id, record);
      else
        this.#logger.warn(
          { sessionId: this.sessionId, id },
          'sent poll carries no secret: its votes cannot be read',
        );
    } catch (error) {
      this.#logger.error({ sessionId: this.sessionId, id, err: describe(error) }, 'poll record save failed');
    }
  }

  async sendPresence(to: string, presence: OutboundPresence): Promise<void> {
    const socket = this.#connectedSocket('presence');
    const { type, jid } = toBaileysPresence(to, presence);
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
    this.#pairing.phone = digits;
    const challenge = this.#pairing.waitForCode();
    if (!this.#running) {
      try {
        await this.connect();
      } catch (error) {
        this.#pairing.rejectWaiters(error as Error);
      }
    } else if (this.#socket && this.#pairing.codeShown) {
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
      this.#pairing.wasUnpaired = true;
      this.#pairing.round += 1;
    }
    this.#generation += 1;
    const generation = this.#generation;
    this.#socketCause = cause;
    this.#pairing.socketOpened();
    const historyDays = this.#options.historyImportDays;
    if (this.#pairing.wasUnpaired && historyDays) {
      const maxMessages = this.#options.historyImportMaxMessages;
      this.#history = {
        generation,
        run: new HistoryImport({ days: historyDays, ...(maxMessages ? { maxMessages } : {}) }),
      };
    }
    this.#transition('connecting', cause);

    let socket: BaileysSocket;
    try {
      socket = this.#factory({
        markOnlineOnConnect: false,
        emitOwnEvents: false,
        cachedGroupMetadata: this.#groupCache.hook,
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
    ev.on('messages.upsert', (upsert) => {
      const votes = pollVotesOf(upsert.messages);
      this.#deliver(
        'messages.upsert',
        (ctx) => mapUpsert(upsert, ctx),
        async (events, ctx) => {
          await rememberPolls(this.#polls, upsert.messages, ctx);
          if (votes.size > 0) await decryptPollVotes(events, votes, this.#polls, ctx);
        },
      );
    });
    ev.on('messages.update', (updates) =>
      this.#deliver('messages.update', (ctx) => mapMessageUpdates(updates, ctx)),
    );
    ev.on('message-receipt.update', (updates) =>
      this.#deliver('message-receipt.update', (ctx) => mapReceiptUpdates(updates, ctx)),
    );
    ev.on('messaging-history.set', (set) => this.#onHistory(generation, set));
    ev.on('presence.update', (update) => this.#deliver('presence.update', (ctx) => mapPresence(update, ctx)));
    ev.on('call', (calls) => this.#deliver('call', (ctx) => mapCalls(calls, ctx)));
    ev.on('groups.upsert', (groups) => {
      for (const metadata of groups ?? []) if (metadata?.id) this.#groupCache.set(metadata);
    });
    ev.on('groups.update', (updates) => this.#groupCache.update(updates));
    ev.on('group-participants.update', (update) => this.#groupCache.participants(update));
    ev.on('lid-mapping.update', (mapping) =>
      this.#deliver('lid-mapping.update', (ctx) => [mapLidMapping(mapping, ctx)]),
    );
  }

  /** A history chunk: imported only on the socket that opened right after pairing, within its window. */
  #onHistory(generation: number, set: BaileysEventMap['messaging-history.set']): void {
    const history = this.#history;
    if (!history || history.generation !== generation) return;
    void history.run.days().then((days) => {
      if (days === null || days <= 0 || generation !== this.#generation) return;
      this.#deliver('messaging-history.set', (ctx) => history.run.select(set, days, ctx));
    });
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
    const { first, ttlMs } = this.#pairing.qrShown();
    if (this.#state !== 'pairing') this.#transition('pairing', this.#socketCause);
    this.#listeners.emit('pairing', this.#pairing.challenge('qr', qr, ttlMs));
    if (first && this.#pairing.phone) void this.#issuePairingCode(generation, socket);
  }

  async #issuePairingCode(generation: number, socket: BaileysSocket): Promise<void> {
    await this.#pairing.requestCode(socket, () => generation === this.#generation);
  }

  #onOpen(socket: BaileysSocket): void {
    this.#openedAt = this.#now().getTime();
    this.#pairing.round = 0;
    const me = socket.user ?? this.#auth?.state.creds.me;
    const phoneNumber = pnOf(me?.id);
    this.#transition('connected', this.#socketCause, phoneNumber ? { phoneNumber } : {});
    if (this.#pairing.wasUnpaired) {
      this.#pairing.wasUnpaired = false;
      this.#pairing.phone = undefined;
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
      codesShown: this.#pairing.codeShown,
      pairingRound: this.#pairing.round,
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
        this.#pairing.rejectWaiters(
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
    this.#pairing.rejectWaiters(error);
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
  #deliver(
    source: string,
    map: (ctx: MappingContext) => MappedEvent[],
    enrich?: (events: MappedEvent[], ctx: MappingContext) => Promise<void>,
  ): void {
    let events: MappedEvent[];
    const ctx = this.#mappingContext();
    try {
      events = map(ctx);
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
    if (source === 'messages.upsert' || source === 'messaging-history.set')
      this.groups.noticeGroups(groupAddresses(events));
    const auth = this.#auth;
    this.#inbound = this.#inbound
      .then(async () => {
        if (auth) await resolvePhoneNumbers(auth.state.keys, events);
      })
      .catch((error: unknown) => {
        this.#logger.warn({ sessionId: this.sessionId, err: describe(error) }, 'LID to PN lookup failed');
      })
      .then(async () => {
        if (!enrich) return;
        try {
          await enrich(events, ctx);
        } catch (error) {
          // Poll records unreachable: a vote without its options is reported, never emitted empty.
          this.#logger.warn({ sessionId: this.sessionId, err: describe(error) }, 'poll vote handling failed');
          events = events.map((item) =>
            item.event === 'message' && item.payload.content.type === 'poll_vote'
              ? {
                  event: 'unsupported',
                  payload: {
                    sessionId: this.sessionId,
                    source,
                    reason: 'mapping-error',
                    detail: `poll vote: ${describe(error)}`,
                    providerMessageId: item.payload.providerMessageId,
                    at: this.#now(),
                  },
                }
              : item,
          );
        }
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

function notConnected(sessionId: string, state: SessionState): ChannelError {
  return new ChannelError('NOT_CONNECTED', `session ${sessionId} is not connected (${state})`);
}

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type AnyMessageContent,
  type AuthenticationCreds,
  type BaileysEventMap,
  Browsers,
  buildPairingQRData,
  bytesToCrockford,
  DisconnectReason,
  generateMessageIDV2,
  generateWAMessage,
  jidEncode,
  type MessageUserReceiptUpdate,
  type MiscMessageGenerationOptions,
  makeEventBuffer,
  type ParticipantAction,
  proto,
  type UserFacingSocketConfig,
  type WAMessage,
  type WAMessageKey,
  type WAMessageUpdate,
  type WAPresence,
} from '@whiskeysockets/baileys';
import { silentLogger } from '../logger.ts';
import type { BaileysSocket, SocketFactory } from '../options.ts';
import { StandInGroupServer } from './groups.ts';

/**
 * A stand-in for Baileys' socket, for tests (WhatsApp's servers cannot be reached from here,
 * and a home-made server cannot pass the Noise handshake's certificate check).
 *
 * It is built from Baileys' own parts, so what the adapter sees is what Baileys emits: the
 * event emitter is Baileys' `makeEventBuffer` (buffering while a logged-in socket catches up,
 * consolidating, then flushing), `creds.update` is merged into the creds object as Baileys does,
 * `connection: 'connecting'` arrives on the next tick, QR strings come from `buildPairingQRData`,
 * sent messages are built by `generateWAMessage` (real protos, real message ids), and `end()`
 * emits `close` with a Boom-shaped error, then removes the listeners and destroys the emitter.
 * The test drives the WhatsApp side: QR codes, pairing, open, close codes, inbound events.
 */

/** An error shaped like @hapi/boom's, which is what Baileys closes sockets with (`output.statusCode`). */
export type BoomLike = Error & {
  isBoom: true;
  output: {
    statusCode: number;
    payload: { statusCode: number; error: string; message: string };
    headers: object;
  };
  data?: unknown;
};

/** Makes the error Baileys would close with, e.g. `boom('Stream Errored (conflict)', 440)`. */
export function boom(message: string, statusCode: number, data?: unknown): BoomLike {
  const error = new Error(message) as BoomLike;
  error.isBoom = true;
  error.output = { statusCode, payload: { statusCode, error: 'Error', message }, headers: {} };
  if (data !== undefined) error.data = data;
  return error;
}

/** One file Baileys uploaded through the stand-in (the ciphertext, as WhatsApp's media server would get it). */
export interface UploadedMedia {
  mediaType: string;
  /** The path the message's `directPath` names. */
  directPath: string;
  /** What Baileys uploaded: the AES-CBC ciphertext with its 10-byte MAC. */
  encrypted: Buffer;
  /** The SHA-256 (base64) Baileys declared for the ciphertext. */
  fileEncSha256B64: string;
}

/** One sendMessage call and the message Baileys built for it. */
export interface SentMessage {
  jid: string;
  content: AnyMessageContent;
  options: MiscMessageGenerationOptions;
  message: WAMessage;
}

/** What the phone side reports after pairing. */
export interface PairingIdentity {
  /** E.164 digits. */
  phoneNumber: string;
  /** LID digits. */
  lid: string;
  /** This companion's device number. */
  device?: number;
  name?: string;
}

/** The creds fields Baileys' configureSuccessfulPairing sets on pair-success. */
export function pairedCredsUpdate(identity: PairingIdentity): Partial<AuthenticationCreds> {
  const device = identity.device ?? 7;
  return {
    account: proto.ADVSignedDeviceIdentity.fromObject({
      details: randomBytes(24),
      accountSignatureKey: randomBytes(32),
      accountSignature: randomBytes(64),
      deviceSignature: randomBytes(64),
    }),
    me: {
      id: `${identity.phoneNumber}:${device}@s.whatsapp.net`,
      lid: `${identity.lid}:${device}@lid`,
      ...(identity.name ? { name: identity.name } : {}),
    },
    signalIdentities: [
      { identifier: { name: `${identity.lid}:${device}@lid`, deviceId: 0 }, identifierKey: randomBytes(33) },
    ],
    platform: 'android',
  };
}

/** One socket; made by {@link BaileysStandIn.factory}. */
export class StandInSocket implements BaileysSocket {
  /** Baileys' own buffered event emitter. */
  readonly ev = makeEventBuffer(silentLogger);
  /** The config the adapter passed (auth, logger, options). */
  readonly config: UserFacingSocketConfig;
  /** Every sendMessage call, in order. */
  readonly sent: SentMessage[] = [];
  /** Every file uploaded for a media send, in order. */
  readonly uploads: UploadedMedia[] = [];
  /** Every sendPresenceUpdate call. */
  readonly presenceUpdates: { type: WAPresence; jid?: string }[] = [];
  /** Every key readMessages was called with (the read receipts Baileys would send), in order. */
  readonly readKeys: WAMessageKey[] = [];
  /** Every JID presenceSubscribe was called with. */
  readonly presenceSubscriptions: string[] = [];
  /** Every rejectCall call (the reject node Baileys would send). */
  readonly rejectedCalls: { callId: string; from: string }[] = [];
  /** Phone numbers requestPairingCode was called with. */
  readonly pairingCodeRequests: string[] = [];
  /** How often logout() was called. */
  logoutCalls = 0;
  /** The error end() was called with (undefined when ended by the adapter). */
  endError: Error | undefined;
  /** Makes the next sendMessage reject with this. */
  failNextSend: Error | undefined;
  #closed = false;
  /** WhatsApp's group server: the account's groups, their queries and notifications (groups.ts). */
  readonly groupServer: StandInGroupServer = new StandInGroupServer({
    ev: this.ev,
    me: () => this.config.auth.creds.me?.id ?? '',
    assertOpen: () => this.#assertOpen(),
    boom,
  });
  /** Resolves once the socket announced `connecting` (its first tick): drive it only after that. */
  readonly started: Promise<void>;

  /** Creates the socket; like makeWASocket it announces `connecting` on the next tick. */
  constructor(config: UserFacingSocketConfig) {
    this.config = config;
    const creds = config.auth.creds;
    // Baileys merges every creds.update into the creds object before anyone saves it.
    this.ev.on('creds.update', (update) => Object.assign(creds, update));
    this.started = new Promise((resolve) =>
      process.nextTick(() => {
        resolve();
        if (this.#closed) return;
        // A logged-in socket buffers events until the offline notifications are in (see open()).
        if (creds.me?.id) this.ev.buffer();
        this.ev.emit('connection.update', {
          connection: 'connecting',
          receivedPendingNotifications: false,
          qr: undefined,
        });
      }),
    );
  }

  get user() {
    return this.config.auth.creds.me;
  }

  /** Whether end() ran. */
  get closed(): boolean {
    return this.#closed;
  }

  // --- the socket API the adapter calls ---

  async sendMessage(jid: string, content: AnyMessageContent, options: MiscMessageGenerationOptions = {}) {
    this.#assertOpen();
    if (this.failNextSend) {
      const error = this.failNextSend;
      this.failNextSend = undefined;
      throw error;
    }
    const userJid = this.config.auth.creds.me?.id;
    if (!userJid) throw boom('Cannot proceed: socket is not authenticated yet (creds.me.id is missing)', 401);
    const message = await generateWAMessage(jid, content, {
      logger: silentLogger,
      userJid,
      // Baileys' own prepareWAMessageMedia encrypts the file; the stand-in plays the media
      // server: it keeps the ciphertext and answers a URL and directPath as WhatsApp's does.
      upload: async (encFilePath, { fileEncSha256B64, mediaType }) => {
        const encrypted = await readFile(encFilePath);
        const directPath = `/v/t62.7118-24/${randomBytes(12).toString('hex')}.enc`;
        this.uploads.push({ mediaType, directPath, encrypted, fileEncSha256B64 });
        return { mediaUrl: `https://mmg.whatsapp.net${directPath}`, directPath };
      },
      messageId: generateMessageIDV2(userJid),
      ...options,
    });
    this.sent.push({ jid, content, options, message });
    if (this.config.emitOwnEvents ?? true) {
      process.nextTick(() => this.ev.emit('messages.upsert', { messages: [message], type: 'append' }));
    }
    return message;
  }

  async sendPresenceUpdate(type: WAPresence, jid?: string): Promise<void> {
    this.#assertOpen();
    this.presenceUpdates.push(jid === undefined ? { type } : { type, jid });
  }

  groupMetadata(jid: string) {
    return this.groupServer.groupMetadata(jid);
  }

  groupCreate(subject: string, participants: string[]) {
    return this.groupServer.groupCreate(subject, participants);
  }

  groupParticipantsUpdate(jid: string, participants: string[], action: ParticipantAction) {
    return this.groupServer.groupParticipantsUpdate(jid, participants, action);
  }

  groupUpdateSubject(jid: string, subject: string) {
    return this.groupServer.groupUpdateSubject(jid, subject);
  }

  async readMessages(keys: WAMessageKey[]): Promise<void> {
    this.#assertOpen();
    this.readKeys.push(...keys);
  }

  async presenceSubscribe(toJid: string): Promise<void> {
    this.#assertOpen();
    this.presenceSubscriptions.push(toJid);
  }

  async rejectCall(callId: string, callFrom: string): Promise<void> {
    this.#assertOpen();
    this.rejectedCalls.push({ callId, from: callFrom });
  }

  async requestPairingCode(phoneNumber: string, customPairingCode?: string): Promise<string> {
    this.#assertOpen();
    const creds = this.config.auth.creds;
    const code = customPairingCode ?? bytesToCrockford(randomBytes(5));
    creds.pairingCode = code;
    creds.me = { id: jidEncode(phoneNumber, 's.whatsapp.net'), name: '~' };
    this.ev.emit('creds.update', creds);
    this.pairingCodeRequests.push(phoneNumber);
    return code;
  }

  async logout(msg?: string): Promise<void> {
    this.logoutCalls += 1;
    if (this.config.auth.creds.me?.id) this.#assertOpen();
    void this.end(boom(msg || 'Intentional Logout', DisconnectReason.loggedOut));
  }

  async end(error: Error | undefined): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.endError = error;
    await Promise.resolve(); // Baileys awaits the WebSocket's close here.
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
    this.ev.removeAllListeners('connection.update');
    this.ev.destroy();
  }

  // --- the WhatsApp side, driven by tests ---

  /** Shows the next QR code (as the server's pair-device refs do); returns it. */
  showQr(): string {
    this.#assertOpen();
    const creds = this.config.auth.creds;
    const ref = `2@${randomBytes(24).toString('base64')}`;
    const qr = buildPairingQRData(
      ref,
      Buffer.from(creds.noiseKey.public).toString('base64'),
      Buffer.from(creds.signedIdentityKey.public).toString('base64'),
      creds.advSecretKey,
      this.config.browser ?? Browsers.macOS('Chrome'),
    );
    this.ev.emit('connection.update', { qr });
    return qr;
  }

  /** Every QR ref was used without a scan: Baileys ends with 408. */
  async expireQrs(): Promise<void> {
    await this.end(boom('QR refs attempts ended', DisconnectReason.timedOut));
  }

  /** The phone confirmed the link (pair-success): creds are configured and `isNewLogin` announced. */
  completePairing(identity: PairingIdentity): void {
    const creds = this.config.auth.creds;
    // With a pairing code Baileys marks the creds registered when the phone sends the code back.
    if (this.pairingCodeRequests.length > 0) {
      creds.registered = true;
      this.ev.emit('creds.update', creds);
    }
    this.ev.emit('creds.update', pairedCredsUpdate(identity));
    this.ev.emit('connection.update', { isNewLogin: true, qr: undefined });
  }

  /** Login succeeded (CB:success), then the offline notifications are in (buffered events flush). */
  open(options: { catchUp?: boolean } = {}): void {
    this.#assertOpen();
    const me = this.config.auth.creds.me;
    if (me) this.ev.emit('creds.update', { me: { ...me } });
    this.ev.emit('connection.update', { connection: 'open' });
    if (options.catchUp ?? true) this.finishCatchUp();
  }

  /** The server's `offline` notification: flushes what was buffered while catching up. */
  finishCatchUp(): void {
    if (this.ev.isBuffering()) this.ev.flush();
    this.ev.emit('connection.update', { receivedPendingNotifications: true });
  }

  /** The server closes the connection with `statusCode` (a DisconnectReason). */
  async close(statusCode: number, message = `Stream Errored (${statusCode})`): Promise<void> {
    await this.end(boom(message, statusCode));
  }

  /** Messages arrive (`notify`: live; `append`: catch-up). */
  receive(messages: WAMessage[], type: 'notify' | 'append' = 'notify'): void {
    this.ev.emit('messages.upsert', { messages, type });
  }

  /** Baileys' `messages.update` (status receipts, edit and revoke copies...). */
  updateMessages(updates: WAMessageUpdate[]): void {
    this.ev.emit('messages.update', updates);
  }

  /** Baileys' `message-receipt.update` (group receipts). */
  receipts(updates: MessageUserReceiptUpdate[]): void {
    this.ev.emit('message-receipt.update', updates);
  }

  /** Baileys' `call` (what its call-node handler emits for an offer, a timeout, a reject...). */
  call(calls: BaileysEventMap['call']): void {
    this.ev.emit('call', calls);
  }

  /** Baileys' `presence.update`. */
  presence(update: BaileysEventMap['presence.update']): void {
    this.ev.emit('presence.update', update);
  }

  /** Learns a LID <-> PN mapping the way Baileys' LIDMappingStore stores it, then announces it. */
  async learnLidMapping(pnJid: string, lidJid: string): Promise<void> {
    const pnUser = pnJid.split('@')[0]!.split(':')[0]!;
    const lidUser = lidJid.split('@')[0]!.split(':')[0]!;
    await this.config.auth.keys.set({ 'lid-mapping': { [pnUser]: lidUser, [`${lidUser}_reverse`]: pnUser } });
    this.ev.emit('lid-mapping.update', { pn: pnJid, lid: lidJid });
  }

  #assertOpen(): void {
    if (this.#closed) throw boom('Connection Closed', DisconnectReason.connectionClosed);
  }
}

/** Makes stand-in sockets for an adapter and keeps them, newest last. */
export class BaileysStandIn {
  /** Every socket made, in order. */
  readonly sockets: StandInSocket[] = [];
  readonly #waiters = new Set<() => void>();

  /** Pass as the adapter's `socketFactory`. */
  readonly factory: SocketFactory = (config) => {
    const socket = new StandInSocket(config);
    this.sockets.push(socket);
    for (const wake of [...this.#waiters]) wake();
    return socket;
  };

  /** The newest socket. */
  get current(): StandInSocket {
    const socket = this.sockets.at(-1);
    if (!socket) throw new Error('no socket has been made yet');
    return socket;
  }

  /** Waits (at most `timeoutMs`) until socket number `count` (1-based) exists and has started; returns it. */
  async socket(count: number, timeoutMs = 2_000): Promise<StandInSocket> {
    const socket = await this.#made(count, timeoutMs);
    await socket.started;
    return socket;
  }

  async #made(count: number, timeoutMs: number): Promise<StandInSocket> {
    if (this.sockets.length >= count) return this.sockets[count - 1]!;
    return await new Promise<StandInSocket>((resolve, reject) => {
      const wake = () => {
        if (this.sockets.length < count) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(this.sockets[count - 1]!);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(
          new Error(`socket ${count} was not made within ${timeoutMs} ms (made ${this.sockets.length})`),
        );
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }
}

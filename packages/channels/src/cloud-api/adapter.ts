/**
 * The Cloud API adapter: one WhatsApp Business phone number behind the Channel port. There is no
 * socket and no pairing: connect() checks the token against the phone number, send() is one
 * Graph POST, and inbound arrives as webhooks at the API, which hands each payload to
 * handleWebhook() (or the worker calls parseCloudApiWebhook itself).
 */
import { z } from 'zod';
import type {
  Channel,
  ChannelCapabilities,
  ChannelEventName,
  ChannelEvents,
  ChannelListener,
  OutboundContent,
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
import { channelErrorFromGraph } from './errors.ts';
import { toGraphInteractive } from './interactive.ts';
import { uploadCloudApiMedia } from './media.ts';
import { type ParsedCloudApiWebhook, parseCloudApiWebhook } from './webhook.ts';

/** Where the adapter reports what it cannot throw (listener failures); never message content. */
export interface CloudApiLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Options of {@link CloudApiChannel}. */
export interface CloudApiChannelOptions {
  sessionId: string;
  /** Graph's id of the business phone number. */
  phoneNumberId: string;
  /** A system-user access token with whatsapp_business_messaging. */
  accessToken: string;
  /** Default `https://graph.facebook.com`; the emulator's URL in tests. */
  baseUrl?: string;
  /** Graph API version, default `v23.0`. */
  graphVersion?: string;
  /** The epoch of this worker's claim of the session. */
  epoch: bigint | number;
  /** Reads the session's fence (the latest claim's epoch); sends are refused once it passed `epoch`. */
  readFence: () => Promise<bigint>;
  /** Per-request timeout (default 15 s). */
  requestTimeoutMs?: number;
  logger?: CloudApiLogger;
}

const sendResponseSchema = z.object({
  messaging_product: z.literal('whatsapp'),
  contacts: z.array(z.object({ input: z.string(), wa_id: z.string() })).min(1),
  messages: z.array(z.object({ id: z.string().min(1) })).min(1),
});
const phoneNumberSchema = z.looseObject({ id: z.string(), display_phone_number: z.string() });

const silent: CloudApiLogger = { warn() {} };

/** The Cloud API's {@link Channel}: stateless HTTP, fenced by the claim's epoch like every adapter. */
export class CloudApiChannel implements Channel {
  /** Always `cloud-api`. */
  readonly kind = 'cloud-api' as const;
  readonly sessionId: string;
  readonly capabilities: ChannelCapabilities = { pairing: false, persistentConnection: false };
  /** The epoch this instance sends under. */
  readonly epoch: bigint;
  readonly #options: CloudApiChannelOptions;
  readonly #listeners: ChannelListeners;
  readonly #base: string;
  readonly #logger: CloudApiLogger;
  #state: SessionState = 'disconnected';
  #connecting: Promise<void> | undefined;

  /** Creates a channel; nothing is contacted until connect(). */
  constructor(options: CloudApiChannelOptions) {
    this.#options = options;
    this.sessionId = options.sessionId;
    this.epoch = BigInt(options.epoch);
    this.#logger = options.logger ?? silent;
    this.#base = `${(options.baseUrl ?? 'https://graph.facebook.com').replace(/\/+$/, '')}/${options.graphVersion ?? 'v23.0'}`;
    this.#listeners = new ChannelListeners((event, error) =>
      this.#logger.warn({ sessionId: this.sessionId, event, err: String(error) }, 'channel listener failed'),
    );
  }

  /** The current state. */
  get state(): SessionState {
    return this.#state;
  }

  /** Subscribes to an event. */
  on<E extends ChannelEventName>(event: E, listener: ChannelListener<E>): () => void {
    return this.#listeners.on(event, listener);
  }

  /** Checks the fence, then the token and phone number id (GET on the phone number). */
  async connect(): Promise<void> {
    if (this.#state === 'connected' || this.#state === 'connecting') return await this.#connecting;
    this.#connecting = this.#connect();
    try {
      await this.#connecting;
    } finally {
      this.#connecting = undefined;
    }
  }

  async #connect(): Promise<void> {
    this.#transition('connecting', 'connect');
    try {
      await this.#checkFence('connect');
    } catch (error) {
      if (error instanceof StaleEpochError)
        return this.#transition('disconnected', 'stale-epoch', { willReconnect: false });
      return this.#transition('disconnected', 'socket-error', {
        willReconnect: false,
        detail: 'fence unreadable',
      });
    }
    let response: Response;
    try {
      response = await this.#request(
        'GET',
        `/${encodeURIComponent(this.#options.phoneNumberId)}?fields=id,display_phone_number,verified_name`,
      );
    } catch (error) {
      return this.#transition('disconnected', 'socket-error', {
        willReconnect: false,
        detail: describe(error),
      });
    }
    const body = await response.json().catch(() => undefined);
    if (!response.ok) {
      const error = channelErrorFromGraph(response.status, body, 'connect');
      if (error.code === 'LOGGED_OUT')
        return this.#transition('logged_out', 'logged-out', {
          code: error.providerCode ?? response.status,
          detail: error.message,
        });
      const cause: StateCause =
        response.status >= 500 ? 'service-unavailable' : response.status === 403 ? 'forbidden' : 'unknown';
      return this.#transition('disconnected', cause, {
        code: error.providerCode ?? response.status,
        detail: error.message,
        willReconnect: false,
      });
    }
    const phone = phoneNumberSchema.safeParse(body);
    if (!phone.success)
      return this.#transition('disconnected', 'unknown', {
        detail: 'phone number lookup answered an unexpected body',
        willReconnect: false,
      });
    this.#transition('connected', 'connect', {
      phoneNumber: phone.data.display_phone_number.replace(/\D/g, ''),
    });
  }

  /** Stops sending; nothing to close on the wire. */
  async disconnect(): Promise<void> {
    if (this.#state === 'disconnected' || this.#state === 'logged_out') return;
    this.#transition('disconnected', 'stopped', { willReconnect: false });
  }

  /** A Cloud API number is not unlinked from here (that is Meta's Business Manager): the session just ends as logged out. */
  async logout(): Promise<void> {
    if (this.#state === 'logged_out') return;
    this.#transition('logged_out', 'logout');
  }

  /** Sends one message as one Graph POST. */
  async send(message: OutboundMessage): Promise<SendResult> {
    if (this.#state !== 'connected')
      throw new ChannelError('NOT_CONNECTED', `session ${this.sessionId} is ${this.#state}`, { status: 503 });
    await this.#checkFence('send');
    const to = message.to.replace(/^\+/, '');
    if (!/^\d{5,15}$/.test(to))
      throw new UnrecoverableChannelError(
        'INVALID_NUMBER',
        'recipient is not a phone number (digits, optional +)',
        { status: 400 },
      );
    // Meta's limit for biz_opaque_callback_data; a longer one would be refused by Graph (100).
    if (message.callbackData !== undefined && (message.callbackData.length > 512 || !message.callbackData))
      throw new UnrecoverableChannelError('INVALID_CONTENT', 'callbackData must be 1 to 512 characters', {
        status: 400,
      });
    const content = await this.#uploaded(message.content);
    const body = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to,
      ...toGraphContent(content),
      ...(message.replyTo ? { context: { message_id: message.replyTo.providerMessageId } } : {}),
      // Echoed on the message's status webhooks: names our message if this send's answer is lost.
      ...(message.callbackData ? { biz_opaque_callback_data: message.callbackData } : {}),
    };
    let response: Response;
    try {
      response = await this.#request(
        'POST',
        `/${encodeURIComponent(this.#options.phoneNumberId)}/messages`,
        body,
      );
    } catch (error) {
      // A timeout may have reached Meta: the retry can send twice; Meta has no idempotency key.
      if (error instanceof Error && error.name === 'TimeoutError')
        throw new ChannelError('TIMEOUT', `send for session ${this.sessionId} timed out`, {
          status: 504,
          cause: error,
        });
      throw new ChannelError('SEND_FAILED', `send for session ${this.sessionId}: ${describe(error)}`, {
        status: 503,
        cause: error,
      });
    }
    const json = await response.json().catch(() => undefined);
    if (!response.ok) {
      const error = channelErrorFromGraph(response.status, json);
      if (error.code === 'LOGGED_OUT' && this.#state === 'connected')
        this.#transition('logged_out', 'logged-out', {
          code: error.providerCode ?? response.status,
          detail: error.message,
        });
      throw error;
    }
    const parsed = sendResponseSchema.safeParse(json);
    if (!parsed.success)
      throw new ChannelError('SEND_FAILED', 'Graph accepted the send with an unexpected body', {
        status: 502,
      });
    return {
      providerMessageId: parsed.data.messages[0]!.id,
      to: parsed.data.contacts[0]!.wa_id,
      timestamp: new Date(),
    };
  }

  /**
   * Media given as bytes goes to `POST /{phone-number-id}/media` first and is sent by the id Meta
   * answers. Checked before the upload: exactly one source, a mime type, Meta's size limit for the
   * kind (over it is unrecoverable: a retry uploads the same file).
   */
  async #uploaded(content: OutboundContent): Promise<OutboundContent> {
    if (content.type !== 'media' || (content.data === undefined && content.file === undefined))
      return content;
    const invalid = (why: string) => new UnrecoverableChannelError('INVALID_CONTENT', why, { status: 400 });
    if (
      [content.data, content.file, content.url, content.providerMediaId].filter((s) => s !== undefined)
        .length > 1
    )
      throw invalid('media needs exactly one of data, file, url or providerMediaId');
    if (!content.mimetype) throw invalid('media bytes need a mimetype');
    const limit = CLOUD_API_MEDIA_LIMITS[content.kind];
    if (content.data !== undefined && content.data.byteLength > limit)
      throw invalid(
        `${content.kind} of ${content.data.byteLength} bytes is over the Cloud API limit of ${limit}`,
      );
    const { data, file, ...rest } = content;
    // Validate the rest (captions on audio...) before spending an upload on it.
    toGraphContent({ ...rest, providerMediaId: '0' });
    // A stored file streams into the upload (its size checked as it passes); opened only now.
    const source = data ?? (await file!.open());
    if (!source) throw invalid('the media file is no longer stored');
    const id = await uploadCloudApiMedia({
      base: this.#base,
      phoneNumberId: this.#options.phoneNumberId,
      accessToken: this.#options.accessToken,
      data: source,
      mimetype: content.mimetype,
      ...(content.fileName ? { fileName: content.fileName } : {}),
      maxBytes: limit,
      timeoutMs: this.#options.requestTimeoutMs ?? 60_000,
    });
    return { ...rest, providerMediaId: id };
  }

  /**
   * Marks inbound messages read: one Graph POST `{status: "read", message_id}` per message (Meta
   * takes one id per call; marking a message read also marks the earlier ones of the chat).
   */
  async markRead(_chat: string, providerMessageIds: string[]): Promise<void> {
    if (this.#state !== 'connected')
      throw new ChannelError('NOT_CONNECTED', `session ${this.sessionId} is ${this.#state}`, { status: 503 });
    await this.#checkFence('mark read');
    for (const id of providerMessageIds) {
      let response: Response;
      try {
        response = await this.#request(
          'POST',
          `/${encodeURIComponent(this.#options.phoneNumberId)}/messages`,
          {
            messaging_product: 'whatsapp',
            status: 'read',
            message_id: id,
          },
        );
      } catch (error) {
        throw new ChannelError('SEND_FAILED', `mark read for session ${this.sessionId}: ${describe(error)}`, {
          status: 503,
          cause: error,
        });
      }
      if (!response.ok)
        throw channelErrorFromGraph(response.status, await response.json().catch(() => undefined));
      await response.body?.cancel();
    }
  }

  /**
   * The Cloud API has no presence: its typing indicator only exists as part of marking one
   * inbound message read. Resolves without doing anything, so callers need no special case.
   */
  async sendPresence(_to: string, _presence: OutboundPresence): Promise<void> {}

  /** Cloud API numbers are registered in Meta's Business Manager, never paired. */
  async requestPairingCode(_phoneNumber: string): Promise<PairingChallenge> {
    throw new UnrecoverableChannelError('PAIRING_UNSUPPORTED', 'Cloud API sessions are not paired', {
      status: 400,
    });
  }

  /** Parses a webhook POST body and emits this session's events; returns everything parsed. */
  handleWebhook(payload: unknown): ParsedCloudApiWebhook {
    const parsed = parseCloudApiWebhook(payload, {
      sessionsByPhoneNumberId: { [this.#options.phoneNumberId]: this.sessionId },
    });
    for (const item of parsed.events) {
      if (item.payload.sessionId !== this.sessionId) continue;
      this.#listeners.emit(item.event, item.payload as ChannelEvents[typeof item.event]);
    }
    return parsed;
  }

  async #checkFence(what: string): Promise<void> {
    let fence: bigint;
    try {
      fence = await this.#options.readFence();
    } catch (error) {
      throw new ChannelError('FENCE_UNAVAILABLE', `${what} for session ${this.sessionId}: fence unreadable`, {
        status: 503,
        cause: error,
      });
    }
    if (fence > this.epoch) {
      const error = new StaleEpochError(this.sessionId, this.epoch, fence, what);
      if (this.#state === 'connected')
        this.#transition('disconnected', 'stale-epoch', { willReconnect: false });
      throw error;
    }
  }

  async #request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    return await fetch(`${this.#base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#options.accessToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.#options.requestTimeoutMs ?? 15_000),
    });
  }

  #transition(state: SessionState, cause: StateCause, extra: Partial<StateChange> = {}): void {
    const previous = this.#state;
    this.#state = state;
    this.#listeners.emit('state', {
      sessionId: this.sessionId,
      state,
      previous,
      cause,
      ...extra,
      at: new Date(),
    });
  }
}

/** Meta's upload limits per media kind, bytes (Cloud API "Supported media types"). */
export const CLOUD_API_MEDIA_LIMITS: Record<'image' | 'video' | 'audio' | 'document' | 'sticker', number> = {
  image: 5 * 1024 * 1024,
  video: 16 * 1024 * 1024,
  audio: 16 * 1024 * 1024,
  document: 100 * 1024 * 1024,
  // Animated stickers may be 500 KB; static ones 100 KB. The larger bound: Meta checks the rest.
  sticker: 500 * 1024,
};

function describe(error: unknown): string {
  if (error instanceof Error)
    return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
  return String(error);
}

/** The Graph body fields for one OutboundContent. */
export function toGraphContent(content: OutboundContent): Record<string, unknown> {
  const invalid = (why: string) => new UnrecoverableChannelError('INVALID_CONTENT', why, { status: 400 });
  switch (content.type) {
    case 'text':
      if (!content.text) throw invalid('text message without text');
      return { type: 'text', text: { body: content.text, preview_url: /https?:\/\//.test(content.text) } };
    case 'reaction':
      if (!content.targetId) throw invalid('reaction without a target');
      // Graph removes a reaction when the emoji is empty.
      return { type: 'reaction', reaction: { message_id: content.targetId, emoji: content.emoji ?? '' } };
    case 'location':
      if (!Number.isFinite(content.latitude) || !Number.isFinite(content.longitude))
        throw invalid('location without coordinates');
      return {
        type: 'location',
        location: {
          latitude: content.latitude,
          longitude: content.longitude,
          ...(content.name ? { name: content.name } : {}),
          ...(content.address ? { address: content.address } : {}),
        },
      };
    case 'contact': {
      // Graph takes structured contacts, not a vCard: keep the name and the phone numbers.
      const fn = /^FN:(.*)$/m.exec(content.vcard)?.[1]?.trim();
      const name = content.displayName ?? fn;
      if (!name) throw invalid('contact without a name (displayName or vCard FN)');
      const phones = content.vcard
        .split(/\r?\n/)
        .filter((line) => /^TEL[;:]/i.test(line) && line.includes(':'))
        .map((line) => {
          const params = line.slice(0, line.indexOf(':'));
          const waId = /waid=(\d+)/i.exec(params)?.[1];
          return { phone: line.slice(line.indexOf(':') + 1).trim(), ...(waId ? { wa_id: waId } : {}) };
        });
      return {
        type: 'contacts',
        contacts: [{ name: { formatted_name: name }, ...(phones.length ? { phones } : {}) }],
      };
    }
    case 'template':
      if (!content.name || !content.language) throw invalid('template without a name or language');
      return {
        type: 'template',
        template: {
          name: content.name,
          language: { code: content.language },
          ...(content.graphComponents?.length
            ? { components: content.graphComponents }
            : content.components?.length
              ? {
                  components: content.components.map((c) => ({
                    type: c.type,
                    ...(c.subType ? { sub_type: c.subType } : {}),
                    ...(c.index === undefined ? {} : { index: String(c.index) }),
                    parameters: c.parameters.map((p) =>
                      p.type === 'text' || p.type === 'payload'
                        ? p
                        : { type: p.type, [p.type]: { link: p.url } },
                    ),
                  })),
                }
              : {}),
        },
      };
    case 'interactive':
      return { type: 'interactive', interactive: toGraphInteractive(content.interactive) };
    case 'poll':
      throw invalid('polls are not sent through the Cloud API (WhatsApp Web sessions only)');
    case 'media': {
      if (content.data !== undefined)
        throw invalid('media bytes must be uploaded first (CloudApiChannel.send does it)');
      if ((content.url === undefined) === (content.providerMediaId === undefined))
        throw invalid('media needs exactly one of data, url or providerMediaId');
      if (content.caption && (content.kind === 'audio' || content.kind === 'sticker'))
        throw invalid(`${content.kind} cannot carry a caption`);
      return {
        type: content.kind,
        [content.kind]: {
          ...(content.url === undefined ? { id: content.providerMediaId } : { link: content.url }),
          ...(content.caption ? { caption: content.caption } : {}),
          ...(content.kind === 'document' && content.fileName ? { filename: content.fileName } : {}),
        },
      };
    }
    default:
      throw invalid(`unsupported content type ${(content as { type: string }).type}`);
  }
}

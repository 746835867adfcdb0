/**
 * The channel port: what the worker needs from a WhatsApp connection, whatever carries it.
 *
 * Two kinds of adapter implement it: `baileys/` (the WhatsApp Web protocol: a socket per
 * session, QR or pairing-code linking, auth state in Redis) and `cloud-api/` (Meta's
 * HTTP API: no socket, no pairing, inbound arrives through webhooks). Everything here is
 * provider-neutral; provider types (Baileys' protos, JIDs as objects, Boom errors) never cross
 * this boundary, so a new Baileys major (v8 changes the auth format and the API) stays inside
 * its adapter. Every adapter passes the suite in `conformance.ts`.
 */

import type { ChannelGroups, GroupEvent } from './groups.ts';

/** Which adapter carries a session; matches the database's `session_channel`. */
export type ChannelKind = 'baileys' | 'cloud-api';

/**
 * Where a session is in its life; the same names as the database's `session_state`.
 *
 * unpaired -> connecting -> pairing (QR / code shown) -> connecting (after the restart that
 * follows pairing) -> connected; connected -> disconnected (with a cause; may reconnect) ->
 * connecting -> connected; any -> logged_out (the device was unlinked: auth state is gone and
 * the session must be paired again).
 */
export type SessionState =
  | 'unpaired'
  | 'pairing'
  | 'connecting'
  | 'connected'
  | 'disconnected'
  | 'logged_out';

/** Why a session changed state; stable names for logs, metrics and the `state_reason` column. */
export type StateCause =
  /** The channel was created and has not connected yet. */
  | 'not-started'
  /** connect() was called. */
  | 'connect'
  /** disconnect() was called (shutdown, lease lost, handover). */
  | 'stopped'
  /** WhatsApp asked for a new connection (515), expected right after pairing. */
  | 'restart-required'
  /** The phone unlinked this device, or the session was logged out elsewhere (401). */
  | 'logged-out'
  /** logout() was called. */
  | 'logout'
  /** WhatsApp refused the account (403). */
  | 'forbidden'
  /** Another connection took the session (440, `conflict: replaced`): ownership moved. */
  | 'connection-replaced'
  /** A later claim raised the session's fencing epoch: this owner must stop. */
  | 'stale-epoch'
  /** The connection closed (428). */
  | 'connection-closed'
  /** The connection was lost or timed out (408). */
  | 'connection-lost'
  /** The session's crypto state was rejected (500). */
  | 'bad-session'
  /** The account is not on multi-device (411). */
  | 'multidevice-mismatch'
  /** WhatsApp is unavailable (503). */
  | 'service-unavailable'
  /** Every QR / pairing code of the allowed pairing rounds expired unused. */
  | 'pairing-expired'
  /** A pairing round ended (its codes expired) and a new one starts. */
  | 'pairing-renewed'
  /** The provider could not be reached or failed in a way it did not classify. */
  | 'socket-error'
  /** A code this adapter does not know; `code` on the transition says which. */
  | 'unknown';

/** One state transition, emitted as `state`; the worker persists it (the channel never touches Postgres). */
export interface StateChange {
  sessionId: string;
  state: SessionState;
  previous: SessionState;
  cause: StateCause;
  /** The provider's own code when there is one (Baileys: the DisconnectReason number). */
  code?: number;
  /** Short provider message for the log; never message content. */
  detail?: string;
  /** For `disconnected`: whether the channel will reconnect by itself. */
  willReconnect?: boolean;
  /** For `disconnected` with `willReconnect`: the delay before the next attempt. */
  retryInMs?: number;
  /** For `disconnected` with `willReconnect`: which consecutive attempt the next one is (1-based). */
  attempt?: number;
  /** For `connected`: the linked number, E.164 digits without '+'. */
  phoneNumber?: string;
  at: Date;
}

/** A code the user types or scans to link the session; a fresh one replaces each that expires. */
export interface PairingChallenge {
  sessionId: string;
  /** `qr`: the string to render as a QR code; `code`: the 8-character code typed on the phone. */
  kind: 'qr' | 'code';
  code: string;
  /** For `code`: the number the code was requested for (digits). */
  phoneNumber?: string;
  /** How long the code stays valid from `issuedAt`; publish it with this TTL. */
  ttlMs: number;
  issuedAt: Date;
  expiresAt: Date;
  /** Increases with every challenge of the session's pairing, so a late publisher cannot overwrite a newer one. */
  sequence: number;
}

/** Emitted once when linking succeeded and the first connection with the new credentials opened. */
export interface PairingCompleted {
  sessionId: string;
  /** The linked number, E.164 digits without '+'. */
  phoneNumber?: string;
  /** The account's LID (digits), when the provider has one. */
  lid?: string;
  at: Date;
}

/**
 * A person (or the account itself) as the provider identified them. WhatsApp addresses chats by
 * phone number (PN) or by LID (a privacy id) and does not always say both: record whichever are
 * present, and link them when an `identity` event arrives.
 */
export interface ContactRef {
  /** What to send to when answering this contact (Baileys: a JID; Cloud API: the wa_id). */
  address: string;
  /** Phone number, E.164 digits without '+'. */
  pn?: string;
  /** LID, the digits before `@lid`. */
  lid?: string;
  /** The name the contact set for themselves. */
  pushName?: string;
}

/** The conversation a message belongs to. */
export interface ChatRef {
  /** What to send to for this chat. */
  address: string;
  kind: 'direct' | 'group' | 'broadcast' | 'newsletter';
  /** For direct chats: the other party. */
  contact?: ContactRef;
}

/** Where media can be fetched from later; the channel never downloads it inline. */
export interface MediaRef {
  mimetype?: string;
  /** Size in bytes as the sender declared it. */
  size?: number;
  /** SHA-256 of the plaintext file, hex. */
  sha256?: string;
  fileName?: string;
  width?: number;
  height?: number;
  /** Duration of audio and video. */
  seconds?: number;
  /**
   * What the adapter needs to download it: opaque to everyone else, JSON-safe so it can sit in a
   * queue job. Baileys: the message key and the media message as base64 protobuf.
   */
  download: { provider: ChannelKind; data: string };
}

/**
 * Downloads the file a {@link MediaRef} points at, as a stream of plaintext chunks. The stream
 * throws at its end when the file does not match what the provider declared (hash, size), so a
 * consumer must read it to the end before trusting it. Aborting `signal` stops the transfer (the
 * socket is closed) and rejects with the signal's reason. Failures are {@link ChannelError}s
 * (`MEDIA_DOWNLOAD_FAILED`, or the provider's mapped code such as `LOGGED_OUT` for a refused
 * token), `unrecoverable` when retrying cannot help (expired, tampered, refused).
 */
export type ChannelMediaFetcher = (
  download: MediaRef['download'],
  signal: AbortSignal,
  context: MediaFetchContext,
) => Promise<AsyncIterable<Uint8Array>>;

/** Which session a download is for (the Cloud API needs that session's access token). */
export interface MediaFetchContext {
  sessionId: string;
}

/** What an inbound message says. */
export type MessageContent =
  | { type: 'text'; text: string }
  | {
      type: 'image' | 'video' | 'audio' | 'document' | 'sticker';
      media: MediaRef;
      caption?: string;
      /** Audio recorded as a voice note. */
      voiceNote?: boolean;
      /** Animated sticker or GIF-like video. */
      animated?: boolean;
    }
  | { type: 'location'; latitude: number; longitude: number; name?: string; address?: string; live?: boolean }
  | { type: 'contact'; contacts: { displayName?: string; vcard: string }[] }
  /** A reaction to `targetId`; `emoji` null means the reaction was removed. */
  | { type: 'reaction'; targetId: string; emoji: string | null }
  /** `targetId` was edited; `content` is its new content. */
  | { type: 'edit'; targetId: string; content: MessageContent }
  /** `targetId` was deleted for everyone. */
  | { type: 'delete'; targetId: string }
  /**
   * The customer picked a reply button (`button`, also Cloud API's legacy template quick-reply
   * `button` replies, whose `id` is the payload) or a list row (`list`) of an interactive message.
   */
  | { type: 'interactive_reply'; kind: 'button' | 'list'; id: string; title: string; description?: string }
  /** A poll (Baileys): its question, options, and how many options one voter may pick (0 = any). */
  | { type: 'poll'; name: string; options: string[]; selectableCount: number }
  /** A vote on poll `pollMessageId` (its provider id): the options now selected (none = vote withdrawn). */
  | { type: 'poll_vote'; pollMessageId: string; selectedOptions: string[] };

/** A message as the worker stores it: de-duplicate on (session, providerMessageId). */
export interface InboundMessage {
  sessionId: string;
  providerMessageId: string;
  chat: ChatRef;
  /** Who wrote it; for `fromMe`, the account itself. */
  sender: ContactRef;
  /** Sent by this account (from the phone or another linked device). */
  fromMe: boolean;
  /** The provider's timestamp. */
  timestamp: Date;
  /** False for catch-up delivery (received while offline, or synced): still new, but not live. */
  live: boolean;
  /**
   * Imported from the history WhatsApp sent when the number was paired (Baileys, the session's
   * `historyImport` setting): stored like any message, without a live message's effects (no
   * webhook, unread count, away reply, assistant or bot).
   */
  history?: boolean;
  content: MessageContent;
  /** The message this one answers. */
  replyTo?: { providerMessageId: string; author?: string };
  forwarded?: boolean;
  /** The people the message mentions (Baileys: `contextInfo.mentionedJid`), in a group. */
  mentions?: ContactRef[];
}

/** A message's delivery state moved. */
export interface Receipt {
  sessionId: string;
  providerMessageId: string;
  /** The chat's address. */
  chat: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  /** True for our own (outbound) messages; false when another device of ours read an inbound one. */
  fromMe: boolean;
  /** Who received or read it, when the provider says (group receipts name the participant). */
  recipient?: ContactRef;
  at?: Date;
  /** For `failed`: why, as the provider said it (Cloud API: the error code and title). */
  failure?: { code?: number; title?: string; detail?: string };
  /**
   * The {@link OutboundMessage.callbackData} the message was sent with, as the provider echoes it
   * (Cloud API: `biz_opaque_callback_data` on its status webhooks). It names our message when the
   * provider's id is unknown to us (a send whose answer was lost), so the pipeline can adopt it.
   */
  callbackData?: string;
}

/** A contact's presence in a chat (typing, online...). */
export interface PresenceUpdate {
  sessionId: string;
  chat: string;
  contact: ContactRef;
  presence: 'available' | 'unavailable' | 'typing' | 'recording' | 'paused';
  lastSeen?: Date;
}

/** The provider says a phone number and a LID are the same person. */
export interface IdentityLink {
  sessionId: string;
  pn: string;
  lid: string;
}

/** Why a provider event was not mapped; stable names for metrics. */
export type UnsupportedReason =
  /** A message type this channel does not map (polls, templates, calls...). */
  | 'unknown-content'
  /** A message with no content at all. */
  | 'no-content'
  /** The provider could not decrypt it (it may arrive again later). */
  | 'undecryptable'
  /** A system notification (group changes and the like), not a message. */
  | 'system-notification'
  /** A protocol message the provider handles itself (history sync, key share...). */
  | 'protocol-message'
  /** An event missing fields it must have. */
  | 'malformed'
  /** A delivery status or message update this channel does not map. */
  | 'unknown-update'
  /** Mapping threw; `detail` says what failed. */
  | 'mapping-error';

/** A provider event the channel did not map, reported instead of dropped. */
export interface UnsupportedEvent {
  sessionId: string;
  /** The provider's event name (e.g. `messages.upsert`). */
  source: string;
  reason: UnsupportedReason;
  /** What exactly (a type name, a missing field); never message content. */
  detail: string;
  providerMessageId?: string;
  chat?: string;
  at: Date;
}

/**
 * An incoming WhatsApp call and what became of it (Baileys' `call` events; the Cloud API has no
 * calling webhook this adapter handles). One call id goes through several statuses: `offer`
 * (ringing), then `accept`, `reject` (declined, on the phone or by {@link Channel.rejectCall}),
 * `timeout` (not answered) or `terminate`.
 */
export interface CallEvent {
  sessionId: string;
  callId: string;
  /** The caller (PN and/or LID as known). */
  caller: ContactRef;
  /** The caller's address as the provider spells it: what {@link Channel.rejectCall} takes. */
  from: string;
  isVideo: boolean;
  /** A group call (the call still comes from one caller). */
  isGroup: boolean;
  status: 'offer' | 'ringing' | 'timeout' | 'reject' | 'accept' | 'terminate';
  /** Delivered while the socket was offline (a call that already ended). */
  offline: boolean;
  at: Date;
}

/** Every event a channel emits, by name. */
export interface ChannelEvents {
  state: StateChange;
  pairing: PairingChallenge;
  paired: PairingCompleted;
  message: InboundMessage;
  receipt: Receipt;
  presence: PresenceUpdate;
  identity: IdentityLink;
  unsupported: UnsupportedEvent;
  call: CallEvent;
  group: GroupEvent;
}

/** The name of a channel event. */
export type ChannelEventName = keyof ChannelEvents;

/** Listens to one event; a listener that throws or rejects is logged, never breaks the channel. */
export type ChannelListener<E extends ChannelEventName> = (payload: ChannelEvents[E]) => void | Promise<void>;

/** An interactive message (Cloud API): reply buttons, a list, or a call-to-action URL button. */
export type InteractiveMessage = {
  body: string;
  /** A text header. */
  header?: string;
  footer?: string;
} & (
  | { kind: 'button'; buttons: { id: string; title: string }[] }
  | {
      kind: 'list';
      /** The label of the button that opens the list. */
      button: string;
      sections: { title?: string; rows: { id: string; title: string; description?: string }[] }[];
    }
  | { kind: 'cta_url'; displayText: string; url: string }
);

/** What to send. */
export type OutboundContent =
  | { type: 'text'; text: string }
  /** Adapters without interactive messages (Baileys) reject it as INVALID_CONTENT. */
  | { type: 'interactive'; interactive: InteractiveMessage }
  /** A poll; adapters without polls (Cloud API) reject it as INVALID_CONTENT. */
  | { type: 'poll'; name: string; options: string[]; selectableCount: number }
  | { type: 'reaction'; targetId: string; emoji: string | null; targetFromMe?: boolean }
  | { type: 'location'; latitude: number; longitude: number; name?: string; address?: string }
  | { type: 'contact'; displayName?: string; vcard: string }
  /**
   * A pre-approved template (Cloud API: the only thing it may send outside the 24-hour customer
   * service window). Adapters without templates reject it as INVALID_CONTENT.
   */
  | {
      type: 'template';
      name: string;
      language: string;
      components?: TemplateComponent[];
      /**
       * The components exactly as Meta's Graph API takes them (`template.components`, e.g. with
       * currency and date_time parameters), sent as they are; used instead of `components`.
       * For callers that validated Meta's shape themselves (the API's template sends).
       */
      graphComponents?: Record<string, unknown>[];
    }
  /**
   * A file: its bytes (`data`) or a stored file read as it is uploaded (`file`), both uploaded by
   * the adapter, a URL, or a provider media id (exactly one). `mimetype` is required with `data`
   * and `file`. Adapters that cannot send one reject it as INVALID_CONTENT.
   */
  | {
      type: 'media';
      kind: 'image' | 'video' | 'audio' | 'document' | 'sticker';
      data?: Uint8Array;
      file?: OutboundMediaFile;
      url?: string;
      providerMediaId?: string;
      caption?: string;
      fileName?: string;
      mimetype?: string;
    };

/**
 * A stored file an adapter streams into its upload, never holding it whole: opened only when the
 * upload starts (once per upload attempt), so content that is never sent opens nothing.
 */
export interface OutboundMediaFile {
  /** Opens the file's bytes; undefined when it is no longer stored (INVALID_CONTENT: a retry would not find it either). */
  open(): Promise<AsyncIterable<Uint8Array> | undefined>;
}

/** One component of a template send: the values of its placeholders. */
export interface TemplateComponent {
  type: 'header' | 'body' | 'button';
  /** For buttons: `quick_reply` or `url`. */
  subType?: 'quick_reply' | 'url';
  /** For buttons: which button (0-based). */
  index?: number;
  parameters: TemplateParameter[];
}

/** A value for one template placeholder. */
export type TemplateParameter =
  | { type: 'text'; text: string }
  | { type: 'payload'; payload: string }
  | { type: 'image' | 'video' | 'document'; url: string };

/** One outbound message. */
export interface OutboundMessage {
  /** Phone digits (with or without '+'), or a provider address from an inbound message. */
  to: string;
  content: OutboundContent;
  /** Answer this message. `author` is its sender's address (needed in groups); `text` its text, for the quote bubble. */
  replyTo?: { providerMessageId: string; fromMe?: boolean; author?: string; text?: string };
  /**
   * Provider message id to use, so a retried send after a crash reuses it. Baileys honours it;
   * providers that assign ids themselves ignore it.
   */
  providerMessageId?: string;
  /**
   * Our own reference for the message (our message id), at most 512 characters. The Cloud API
   * sends it as `biz_opaque_callback_data` and Meta echoes it on every status of the message
   * ({@link Receipt.callbackData}); providers without such a field ignore it.
   */
  callbackData?: string;
  /** People to mention (phone digits or addresses); the text names them as `@<digits>`. Groups only. */
  mentions?: string[];
}

/** What a successful send returns. */
export interface SendResult {
  providerMessageId: string;
  /** The address it went to, as the provider spells it. */
  to: string;
  timestamp: Date;
}

/** Presence this account shows in a chat. */
export type OutboundPresence = 'typing' | 'recording' | 'paused' | 'available' | 'unavailable';

/** Options for {@link Channel.connect}. */
export interface ConnectOptions {
  /** Link by pairing code for this number (digits) instead of (as well as) QR. */
  pairingPhoneNumber?: string;
}

/** What an adapter can do; the worker and the API use it to hide what does not apply. */
export interface ChannelCapabilities {
  /** Whether linking happens through the channel (QR, pairing code). Cloud API: false. */
  pairing: boolean;
  /** Whether the channel holds a live connection (socket) that can drop. Cloud API: false. */
  persistentConnection: boolean;
}

/**
 * One WhatsApp session as the worker sees it.
 *
 * Contract (checked by `describeChannelConformance`):
 * - `connect()` starts the session and returns once it is under way; progress is reported by
 *   `state` events (and `pairing` events while linking). It is idempotent while running.
 * - `disconnect()` stops it (no reconnect) and keeps its credentials; `logout()` unlinks it and
 *   removes its credentials. Both resolve once the state event has been emitted.
 * - `send()` resolves with the provider's message id, or rejects with a {@link ChannelError}:
 *   `STALE_EPOCH` once a later owner claimed the session (checked before anything is sent),
 *   `NOT_CONNECTED` (retry later), unrecoverable `LOGGED_OUT` / `INVALID_NUMBER` / `INVALID_CONTENT`.
 * - Every provider event is either mapped to a domain event or reported as `unsupported`.
 */
export interface Channel {
  readonly kind: ChannelKind;
  readonly sessionId: string;
  readonly capabilities: ChannelCapabilities;
  /** The current state (the last `state` event's). */
  readonly state: SessionState;
  /** Starts (or resumes) the session. */
  connect(options?: ConnectOptions): Promise<void>;
  /** Stops the session and keeps its credentials. */
  disconnect(): Promise<void>;
  /** Unlinks the session and removes its credentials. */
  logout(): Promise<void>;
  /** Sends one message. */
  send(message: OutboundMessage): Promise<SendResult>;
  /** Shows typing / recording / paused in a chat, or the account as (un)available. */
  sendPresence(to: string, presence: OutboundPresence): Promise<void>;
  /** Asks for a pairing code for `phoneNumber` (digits); also published as a `pairing` event. */
  requestPairingCode(phoneNumber: string): Promise<PairingChallenge>;
  /**
   * Declines an incoming call (Baileys); absent on channels without calls. Rejects like send()
   * (`NOT_CONNECTED`, `STALE_EPOCH`).
   */
  rejectCall?(call: { callId: string; from: string }): Promise<void>;
  /** Group operations (Baileys); absent on channels without groups (the Cloud API). */
  readonly groups?: ChannelGroups;
  /**
   * Marks the customer's messages `providerMessageIds` in chat `chat` (an address as for send)
   * read on WhatsApp (blue ticks). Rejects like send().
   */
  markRead?(chat: string, providerMessageIds: string[]): Promise<void>;
  /**
   * Asks to be told the chat's presence (typing...), emitted as `presence` events; absent on
   * channels without presence (Cloud API). Rejects like send().
   */
  subscribePresence?(chat: string): Promise<void>;
  /** Subscribes to an event; returns the way to unsubscribe. */
  on<E extends ChannelEventName>(event: E, listener: ChannelListener<E>): () => void;
}

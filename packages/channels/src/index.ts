/** The channel port: the interface, its events, domain types and errors. */

/** The Baileys adapter: a WhatsApp Web session behind the Channel port. */
export { BaileysChannel } from './baileys/adapter.ts';
/** The auth state sealed at rest (AES-256-GCM, key ids, rotation): AUTH_STATE_KEYS. */
export {
  type AuthStateKey,
  AuthStateSealError,
  AuthStateSealer,
  isSealed,
  type OpenedValue,
} from './baileys/auth-sealing.ts';
/** Baileys auth state in one Redis hash per session, every write fenced by the epoch. */
export {
  type AuthStateKeys,
  authStateKeys,
  createRedisAuthState,
  type RedisAuthState,
  type RedisAuthStateOptions,
  readFence,
} from './baileys/auth-state.ts';
/** Reconnect backoff with a ceiling and jitter. */
export { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from './baileys/backoff.ts';
/** History on pairing: the window's ceiling and the bound of one import. */
export { HISTORY_IMPORT_MAX_DAYS, HISTORY_IMPORT_MAX_MESSAGES } from './baileys/history.ts';
/** The logger shape Baileys takes, and the silent default. */
export { type BaileysLogger, silentLogger } from './baileys/logger.ts';
/** Decodes a Baileys MediaRef for the background media download. */
export { type BaileysMediaDownload, decodeMediaDownload, encodeMediaDownload } from './baileys/mapping.ts';
/** Downloads Baileys media (WhatsApp media hosts only, no redirects, checked against fileSha256). */
export { type BaileysMediaFetcherOptions, baileysMediaFetcher } from './baileys/media.ts';
/** WhatsApp's media hosts and the check of a sender's media url/directPath. */
export { type MediaLocation, mediaLocation, WHATSAPP_MEDIA_HOSTS } from './baileys/media-location.ts';
/** The adapter's options and the part of Baileys' socket it uses. */
export type { BaileysChannelOptions, BaileysSocket, SocketFactory } from './baileys/options.ts';
/** Whether Baileys creds belong to a linked device. */
export { isPaired } from './baileys/pairing.ts';
/** The timers the adapter schedules reconnects and timeouts with. */
export { realScheduler, type Scheduler } from './baileys/scheduler.ts';
export type {
  CallEvent,
  Channel,
  ChannelCapabilities,
  ChannelEventName,
  ChannelEvents,
  ChannelKind,
  ChannelListener,
  ChannelMediaFetcher,
  ChatRef,
  ConnectOptions,
  ContactRef,
  IdentityLink,
  InboundMessage,
  MediaFetchContext,
  MediaRef,
  MessageContent,
  OutboundContent,
  OutboundMediaFile,
  OutboundMessage,
  OutboundPresence,
  PairingChallenge,
  PairingCompleted,
  PresenceUpdate,
  Receipt,
  SendResult,
  SessionState,
  StateCause,
  StateChange,
  TemplateComponent,
  TemplateParameter,
  UnsupportedEvent,
  UnsupportedReason,
} from './channel.ts';
/** The Cloud API adapter: a WhatsApp Business phone number over Meta's Graph API. */
export {
  CLOUD_API_MEDIA_LIMITS,
  CloudApiChannel,
  type CloudApiChannelOptions,
  type CloudApiLogger,
  toGraphContent,
} from './cloud-api/adapter.ts';
/** Graph error codes to ChannelErrors, with the table and the reason for each. */
export { channelErrorFromGraph, GRAPH_ERROR_MAPPINGS } from './cloud-api/errors.ts';
/** Downloads Cloud API media by id (Graph's media URL, then the file with the token). */
export { type CloudApiMediaFetcherOptions, cloudApiMediaFetcher } from './cloud-api/media.ts';
/** Meta's webhook batch to domain events (pure, zod-validated). */
export {
  type CloudApiWebhookEvent,
  type ParseCloudApiWebhookOptions,
  type ParsedCloudApiWebhook,
  parseCloudApiWebhook,
} from './cloud-api/webhook.ts';
/** The port's errors: a stable code, an HTTP status, and whether retrying can help. */
export {
  ChannelError,
  type ChannelErrorCode,
  isUnrecoverable,
  StaleEpochError,
  UnrecoverableChannelError,
} from './errors.ts';
/** Groups on the port: their info, their changes (the `group` event), and the operations. */
export type {
  ChannelGroups,
  GroupChange,
  GroupEvent,
  GroupInfo,
  GroupMember,
  GroupParticipant,
  GroupParticipantResult,
  GroupParticipantsAction,
  GroupRole,
} from './groups.ts';

/** A local stand-in for Meta's WhatsApp Cloud API: Graph sends, signed webhooks, a control API. */
export {
  type BusinessMessage,
  type CloudApiEmulator,
  type CloudApiEmulatorOptions,
  createCloudApiEmulator,
  type EmulatedPhoneNumber,
  type StatusMode,
} from './emulator.ts';
/** Webhook signing, delivery with retries, and the GET verification handshake. */
export {
  DEFAULT_RETRY,
  type DeliveryRecord,
  deliverWebhook,
  type HandshakeResult,
  type RetryPolicy,
  signatureHeader,
  verifyWebhookSubscription,
} from './webhooks.ts';
/** Meta's wire formats: the send request schema, the error body, the webhook envelope. */
export {
  GRAPH_ERRORS,
  type GraphErrorBody,
  graphError,
  type SendRequest,
  type StatusEntry,
  sendRequestSchema,
  webhookEnvelope,
} from './wire.ts';

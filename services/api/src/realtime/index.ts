// The realtime fan-out of the API (see README.md): the hub, its principal check and its plugin.
export {
  type PrincipalCheck,
  type PrincipalGoneReason,
  principalKey,
  RealtimeHub,
  type RealtimeHubOptions,
  type StreamAdmission,
} from './hub.ts';
export { type RealtimeOptions, realtimeHubPlugin } from './plugin.ts';
export { databasePrincipalCheck } from './principal-check.ts';
export type { StreamCloseReason } from './stream.ts';
export { compareStreamIds, STREAM_ID } from './stream-ids.ts';

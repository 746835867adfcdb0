/** The wire contract between the API and the workers: key prefixes, queues, jobs, realtime events. */
export {
  type CloudApiInboundJob,
  cloudApiInboundJobSchema,
  type OutboundJob,
  outboundJobId,
  outboundJobSchema,
  QUEUE_NAMES,
  queuePrefix,
  REALTIME_EVENT_FIELD,
  REALTIME_STREAM_MAX_LEN,
  type RealtimeEvent,
  realtimeEventSchema,
  realtimeStreamKey,
  tenantKeyPrefix,
} from './contracts.ts';

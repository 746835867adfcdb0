/** Test helpers of @switchboard/telemetry (`@switchboard/telemetry/testing`): never used by the product. */
export { type FinishedSpan, type MemoryTracing, startMemoryTracing } from './memory-tracing.ts';
export { type RecordedRequest, type RecordingServer, startRecordingServer } from './recording-server.ts';

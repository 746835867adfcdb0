/** The worker service's name, as used in logs, metrics and traces. */
export const SERVICE_NAME = 'switchboard-worker';
export { type WorkerConfig, workerConfigSchema } from './config.ts';
export {
  type DeclaredSession,
  DeclaredSessionsError,
  readDeclaredSessions,
  syncDeclaredSessions,
} from './declared-sessions.ts';
export { type ChannelFactory, SessionRuntime, type SessionRuntimeOptions } from './session-runtime.ts';
export { type RunningWorker, startWorker, type WorkerDependencies } from './worker.ts';

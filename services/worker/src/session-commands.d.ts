import { type Channel } from '@switchboard/channels';
import { type Job } from 'bullmq';
import type { Redis } from 'ioredis';
/**
 * The consumer of one held session's command queue (`QUEUE_NAMES.sessionCommands`): what only the
 * socket's holder can do, asked for by the API. Started when the worker gains the session, stopped
 * before its channel closes, like the outbound consumer; a command added while no worker holds
 * the session waits in the queue for the next holder.
 *
 * The outcome is not a reply: `logout` ends with the session `logged_out` (recorded and announced
 * by the runtime's state path), `pairing-code` with a `code` challenge published by the runtime's
 * pairing path.
 */
/** Options for {@link SessionCommandConsumer}. */
export interface SessionCommandConsumerOptions {
  tenantId: string;
  sessionId: string;
  channel: Channel;
  /** A `worker`-role connection (`maxRetriesPerRequest: null`): BullMQ blocks on it. */
  connection: Redis;
  keyPrefix: string;
  /** A command interrupted by the hand-over waits this long before the next holder takes it (default 1 s). */
  handOverDelayMs?: number;
  onError?: (
    error: unknown,
    context: {
      jobId?: string;
      what: string;
    },
  ) => void;
}
/** What processing one command did. */
export type SessionCommandOutcome = 'logged-out' | 'pairing-code-requested';
/** See the module comment. */
export declare class SessionCommandConsumer {
  private readonly options;
  private worker;
  private readonly stopping;
  constructor(options: SessionCommandConsumerOptions);
  /** Starts consuming (waiting commands first). */
  start(): Promise<void>;
  /** Stops consuming; a command in progress is handed to the next holder instead of being waited for. */
  stop(): Promise<void>;
  /** Processes one job (the Worker's processor). */
  process(job: Job, token?: string): Promise<SessionCommandOutcome>;
  private run;
}
